/**
 * Every AWS resource the shipped stacks register has a physical name within its type's limit.
 *
 * Pulumi autonames a resource without an explicit name as `<logical name>-<7 random characters>`
 * (pulumi-terraform-bridge `tfbridge.AutoName(name, maxlen, "-")`; pulumi-aws
 * provider/resources.go sets the per-type maximum, e.g. 32 for aws_lb_target_group). A name over
 * the limit fails Check for that resource, so `pulumi up` stops. The limits below are the
 * provider's documented ones (the `name`/`namePrefix` descriptions in @pulumi/aws, AWS API
 * references). Every aws: type the program registers must be listed, so a new type forces a
 * decision here.
 */
import * as assert from "assert";
import * as path from "path";
import { MockResource, MockRun } from "../harness/mocks";
import { shippedStack, statefulStack } from "../harness/shipped-stacks";


interface NameRule {
    /** The input that carries the physical name. */
    readonly field: string;
    readonly max: number;
    /** Longest `namePrefix` the provider accepts, when it has one. */
    readonly prefixMax?: number;
    /** The prefix input when it is not `namePrefix` (S3: `bucketPrefix`). */
    readonly prefixField?: string;
    /** False: the provider does not autoname it; the name must be given. */
    readonly autonamed: boolean;
}

/** Random characters Pulumi appends to an autoname, plus the "-". */
const AUTONAME_SUFFIX = 8;

const NAMED: Record<string, NameRule> = {
    "aws:lb/targetGroup:TargetGroup": { field: "name", max: 32, prefixMax: 6, autonamed: true },
    "aws:lb/loadBalancer:LoadBalancer": { field: "name", max: 32, prefixMax: 6, autonamed: true },
    "aws:iam/role:Role": { field: "name", max: 64, prefixMax: 38, autonamed: true },
    "aws:iam/rolePolicy:RolePolicy": { field: "name", max: 128, prefixMax: 100, autonamed: true },
    "aws:iam/instanceProfile:InstanceProfile": { field: "name", max: 128, prefixMax: 102, autonamed: true },
    "aws:ec2/securityGroup:SecurityGroup": { field: "name", max: 255, prefixMax: 100, autonamed: true },
    "aws:ec2/launchTemplate:LaunchTemplate": { field: "name", max: 128, prefixMax: 99, autonamed: true },
    "aws:autoscaling/group:Group": { field: "name", max: 255, prefixMax: 229, autonamed: true },
    "aws:efs/fileSystem:FileSystem": { field: "creationToken", max: 64, autonamed: true },
    "aws:kms/alias:Alias": { field: "name", max: 256, autonamed: false },
    "aws:ssm/parameter:Parameter": { field: "name", max: 2048, autonamed: false },
    // S3: bucket names 3-63 characters; bucketPrefix at most 37 (@pulumi/aws s3/bucket.d.ts).
    "aws:s3/bucket:Bucket": { field: "bucket", max: 63, prefixMax: 37, prefixField: "bucketPrefix", autonamed: true },
    // IAM user names: at most 64 (IAM CreateUser UserName); DynamoDB tables 3-255 (CreateTable TableName).
    "aws:iam/user:User": { field: "name", max: 64, autonamed: true },
    "aws:iam/userPolicy:UserPolicy": { field: "name", max: 128, prefixMax: 100, autonamed: true },
    "aws:dynamodb/table:Table": { field: "name", max: 255, autonamed: true },
};

/** Types with no name of their own (ID assigned by AWS). */
const UNNAMED = new Set([
    "aws:ec2/vpc:Vpc", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable", "aws:ec2/subnet:Subnet", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:ec2/instance:Instance", "aws:kms/key:Key",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:efs/backupPolicy:BackupPolicy", "aws:efs/mountTarget:MountTarget",
    "aws:autoscaling/attachment:Attachment", "aws:lb/listener:Listener", "aws:lb/targetGroupAttachment:TargetGroupAttachment",
    "aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation",
    // DNS records: names of the user's domain, or the validation name ACM hands out.
    "aws:route53/record:Record",
    // A bucket's configuration resources are named by the bucket they configure.
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketVersioning:BucketVersioning",
    // Its id is the access key id AWS assigns.
    "aws:iam/accessKey:AccessKey",
]);

/** The name AWS will see: the explicit one, the longest a prefix can make, or the autoname. */
export function physicalName(resource: MockResource, rule: NameRule): { name: string; length: number; how: string } {
    const explicit = resource.inputs[rule.field];
    if (typeof explicit === "string") {
        return { name: explicit, length: explicit.length, how: "explicit" };
    }
    const prefix = resource.inputs[rule.prefixField ?? "namePrefix"];
    if (typeof prefix === "string") {
        return { name: `${prefix}…`, length: prefix.length, how: "namePrefix" };
    }
    return { name: `${resource.name}-xxxxxxx`, length: resource.name.length + AUTONAME_SUFFIX, how: "autoname" };
}

/** Problems with the names of `run`'s AWS resources; empty when all fit. */
export function nameProblems(run: MockRun): string[] {
    const problems: string[] = [];
    for (const resource of run.resources.filter((r) => r.custom && r.type.startsWith("aws:"))) {
        const rule = NAMED[resource.type];
        if (!rule) {
            if (!UNNAMED.has(resource.type)) {
                problems.push(`${resource.type} (${resource.name}): no name limit known; add it to NAMED or UNNAMED`);
            }
            continue;
        }
        const { name, length, how } = physicalName(resource, rule);
        if (how === "autoname" && !rule.autonamed) {
            problems.push(`${resource.type} ${resource.name}: the provider does not autoname ${rule.field}; set it`);
        } else if (how === "namePrefix" && (rule.prefixMax === undefined || length > rule.prefixMax)) {
            problems.push(`${resource.type} ${resource.name}: namePrefix '${name}' is ${length} characters, at most ${rule.prefixMax ?? "none"} allowed`);
        } else if (how !== "namePrefix" && length > rule.max) {
            problems.push(`${resource.type} ${resource.name}: ${how} ${rule.field} '${name}' is ${length} characters, at most ${rule.max} allowed`);
        }
        const tags = resource.inputs.tags as Record<string, unknown> | undefined;
        for (const [key, value] of Object.entries(tags ?? {})) {
            if (key.length > 128 || (typeof value === "string" && value.length > 256)) {
                problems.push(`${resource.type} ${resource.name}: tag ${key} over the 128/256 character limit`);
            }
        }
    }
    return problems;
}

describe("physical names of AWS resources", () => {
    for (const stack of ["dev", "prod"]) {
        it(`fit their type's limit in the shipped ${stack} stack`, async () => {
            const run = await shippedStack(stack, { exampleApp: false });
            assert.ok(run.resources.some((r) => r.type === "aws:lb/targetGroup:TargetGroup"), "no target group registered");
            assert.deepStrictEqual(nameProblems(run), []);
        });
    }

    it("fit in a dev stack with a stateful app (its DynamoDB tables and IAM user, the platform libSQL server's bucket and writer)", async () => {
        const stateful = path.join(__dirname, "..", "fixtures", "apps", "stateful");
        const run = await statefulStack("dev");
        assert.ok(run.resources.some((r) => r.type === "aws:s3/bucketVersioning:BucketVersioning"), "the libSQL backup bucket is registered");
        assert.deepStrictEqual(nameProblems(run), []);
    });

    it("names every target group with a prefix of at most 6 characters, distinct per target group", async () => {
        const run = await shippedStack("dev", { exampleApp: false });
        const groups = run.resources.filter((r) => r.type === "aws:lb/targetGroup:TargetGroup");
        assert.strictEqual(groups.length, 5);
        const prefixes = groups.map((g) => g.inputs.namePrefix as string);
        assert.ok(prefixes.every((p) => /^[a-z][a-z-]{0,5}$/.test(p)), prefixes.join(","));
        assert.strictEqual(new Set(prefixes).size, prefixes.length);
    });

    it("reports an autoname over the limit (the check itself)", () => {
        const tooLong: MockResource = {
            type: "aws:lb/targetGroup:TargetGroup", name: "spin-cloud-operator-consul", urn: "", custom: true, inputs: {}, state: {},
        };
        const run: MockRun = { stack: "t", resources: [tooLong], outputs: {}, secretValues: [], calls: [] };
        assert.deepStrictEqual(nameProblems(run), [
            "aws:lb/targetGroup:TargetGroup spin-cloud-operator-consul: autoname name 'spin-cloud-operator-consul-xxxxxxx' is 34 characters, at most 32 allowed",
        ]);
        const unknown: MockResource = { ...tooLong, type: "aws:sqs/queue:Queue", name: "b" };
        assert.match(nameProblems({ ...run, resources: [unknown] })[0], /no name limit known/);
    });
});
