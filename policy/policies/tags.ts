/** The required-tags policy. */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { Props, tagsOf } from "../lib/props";
import { configSchema, tunables } from "./config";

/**
 * AWS resource types that take `tags` and that spin-cloud creates or is likely to: the check
 * runs on these only, because most rule and association types cannot be tagged at all.
 */
export const TAGGABLE_TYPES: ReadonlySet<string> = new Set([
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/eip:Eip",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ebs/volume:Volume",
    "aws:autoscaling/group:Group",
    "aws:kms/key:Key",
    "aws:ssm/parameter:Parameter",
    "aws:iam/role:Role",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/listener:Listener",
    "aws:acm/certificate:Certificate",
    "aws:efs/fileSystem:FileSystem",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
]);

/** Required keys that are absent or empty on a resource. */
export function missingTags(props: Props, required: readonly string[]): string[] {
    const tags = tagsOf(props);
    return required.filter((key) => !tags[key]);
}

export const requiredTags: ResourceValidationPolicy = {
    name: "required-tags",
    description: "Taggable AWS resources carry the required tags.",
    enforcementLevel: "advisory",
    configSchema: configSchema("requiredTags"),
    validateResource: (args, report) => {
        if (!TAGGABLE_TYPES.has(args.type)) {
            return args.notApplicable(`Policy only applies to taggable AWS types`);
        }
        const { requiredTags: required } = tunables(args.getConfig, "requiredTags");
        const missing = missingTags(args.props, required);
        if (missing.length > 0) {
            report(`${args.type} '${args.name}' lacks the tag(s) ${missing.join(", ")}. ` +
                `Pass the SpinCloud component's tags to it (or add them to its tags input).`);
        }
    },
};
