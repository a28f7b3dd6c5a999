/**
 * Our own versions of the AWSGuard rules that apply to spin-cloud (read from @pulumi/awsguard
 * 0.3.1: compute.js `ec2-instance-no-public-ip`, `ec2-instance-detailed-monitoring-enabled`,
 * `elb-logging-enabled`; security.js `cmk-backing-key-rotation-enabled`; storage.js
 * `efs-encrypted`, `elb-deletion-protection-enabled`; network.js `alb-http-to-https-redirection`),
 * written for the resource types and input spellings the program registers. Not a dependency.
 */
import { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, asNumber, asRecord, isTrue, peek, Props, stackOfUrn } from "../lib/props";
import { INSTANCE_TYPE, LAUNCH_TEMPLATE_TYPE } from "../lib/user-data";
import { configSchema, tunables } from "./config";
import { nodeRole } from "./user-data";

export const KMS_KEY_TYPE = "aws:kms/key:Key";
export const EFS_TYPE = "aws:efs/fileSystem:FileSystem";
export const ELBV2_TYPES: readonly string[] = ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"];
export const CLASSIC_ELB_TYPE = "aws:elb/loadBalancer:LoadBalancer";

function only(args: ResourceValidationArgs, types: readonly string[]): void {
    if (!types.includes(args.type)) {
        args.notApplicable(`Policy only applies to ${types.join(", ")}`);
    }
}

/** Launch template network interfaces that ask for a public IPv4 address (the flag is a string there). */
function publicInterfaces(props: Props): number[] {
    return asArray(props.networkInterfaces).map((n, i) => [i, asRecord(n)] as const)
        .filter(([, n]) => isTrue(n?.associatePublicIpAddress)).map(([i]) => i);
}

export const noPublicIpOnNodes: ResourceValidationPolicy = {
    name: "ec2-instance-no-public-ip",
    description: "Nomad nodes (instances and launch templates tagged spin-cloud:role=server|client) get no public IPv4 address.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [INSTANCE_TYPE, LAUNCH_TEMPLATE_TYPE]);
        const role = nodeRole(args.type, args.props);
        if (!role) {
            return args.notApplicable("not a Nomad node (no spin-cloud:role=server|client tag)");
        }
        const fix = "Nodes live in private subnets behind NAT; reach them with SSM Session Manager.";
        if (args.type === INSTANCE_TYPE && isTrue(args.props.associatePublicIpAddress)) {
            report(`Instance '${args.name}' (a Nomad ${role}) sets associatePublicIpAddress: true. ${fix}`);
        }
        for (const i of args.type === LAUNCH_TEMPLATE_TYPE ? publicInterfaces(args.props) : []) {
            report(`Launch template '${args.name}' (Nomad ${role}s) sets networkInterfaces[${i}].associatePublicIpAddress. ${fix}`);
        }
    },
};

export const detailedMonitoring: ResourceValidationPolicy = {
    name: "ec2-instance-detailed-monitoring-enabled",
    description: "EC2 instances (monitoring) and launch templates (monitoring.enabled) have detailed monitoring on.",
    enforcementLevel: "advisory",
    validateResource: (args, report) => {
        only(args, [INSTANCE_TYPE, LAUNCH_TEMPLATE_TYPE]);
        const on = args.type === INSTANCE_TYPE ? isTrue(args.props.monitoring) : isTrue(asRecord(args.props.monitoring)?.enabled);
        if (!on) {
            const what = args.type === INSTANCE_TYPE ? `Instance '${args.name}' has monitoring` : `Launch template '${args.name}' has monitoring.enabled`;
            report(`${what} off, so CloudWatch sees it every 5 minutes only. Turn detailed monitoring on (NomadCluster sets it).`);
        }
    },
};

/** Key specs KMS can rotate automatically: symmetric encryption keys only. */
function rotatable(props: Props): boolean {
    const spec = props.customerMasterKeySpec ?? props.keySpec ?? "SYMMETRIC_DEFAULT";
    return spec === "SYMMETRIC_DEFAULT" && (props.keyUsage ?? "ENCRYPT_DECRYPT") === "ENCRYPT_DECRYPT";
}

export const kmsKeyRotation: ResourceValidationPolicy = {
    name: "cmk-backing-key-rotation-enabled",
    description: "Customer-managed KMS keys rotate their key material (enableKeyRotation, a period of at most 365 days).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [KMS_KEY_TYPE]);
        if (!rotatable(args.props)) {
            return args.notApplicable("KMS rotates symmetric encryption keys only");
        }
        if (!isTrue(args.props.enableKeyRotation)) {
            report(`KMS key '${args.name}' does not rotate its key material (enableKeyRotation is not true). Set enableKeyRotation: true.`);
            return;
        }
        const period = asNumber(args.props.rotationPeriodInDays);
        if (period !== undefined && period > 365) {
            report(`KMS key '${args.name}' rotates every ${period} days. Set rotationPeriodInDays to 365 or less.`);
        }
    },
};

export const efsEncrypted: ResourceValidationPolicy = {
    name: "efs-encrypted",
    description: "EFS file systems are encrypted at rest (encrypted: true; a kmsKeyId is only valid with it).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [EFS_TYPE]);
        if (!isTrue(args.props.encrypted)) {
            const key = peek(args.props, "kmsKeyId") !== undefined ? " (a kmsKeyId without encrypted: true is not applied)" : "";
            report(`EFS file system '${args.name}' is not encrypted at rest${key}. Set encrypted: true, with kmsKeyId for a customer key.`);
        }
    },
};

/** True when the resource's stack is listed in `productionStacks`; otherwise declares the policy not applicable. */
function inProduction(args: ResourceValidationArgs): string {
    const { productionStacks } = tunables(args.getConfig, "productionStacks");
    const stack = stackOfUrn(args.urn) ?? "";
    if (!productionStacks.includes(stack)) {
        args.notApplicable(`stack '${stack}' is not a production stack`);
    }
    return stack;
}

export const elbLogging: ResourceValidationPolicy = {
    name: "elb-logging-enabled",
    description: "In production stacks, load balancers write access logs (accessLogs.enabled with a bucket).",
    enforcementLevel: "advisory",
    configSchema: configSchema("productionStacks"),
    validateResource: (args, report) => {
        only(args, [...ELBV2_TYPES, CLASSIC_ELB_TYPE]);
        const stack = inProduction(args);
        const logs = asRecord(args.props.accessLogs);
        if (!isTrue(logs?.enabled) || peek(logs ?? {}, "bucket") === undefined) {
            report(`Load balancer '${args.name}' in production stack '${stack}' writes no access logs. Set accessLogs: ` +
                `{ enabled: true, bucket } to an S3 bucket with SSE-S3 encryption, public access blocked and a bucket ` +
                `policy that lets the region's ELB log delivery write to it.`);
        }
    },
};

export const elbDeletionProtection: ResourceValidationPolicy = {
    name: "elb-deletion-protection-enabled",
    description: "In production stacks, ELBv2 load balancers have deletion protection on.",
    enforcementLevel: "advisory",
    configSchema: configSchema("productionStacks"),
    validateResource: (args, report) => {
        only(args, ELBV2_TYPES);
        const stack = inProduction(args);
        if (!isTrue(args.props.enableDeletionProtection)) {
            report(`Load balancer '${args.name}' in production stack '${stack}' can be deleted by one call. Set ` +
                `enableDeletionProtection: true (turn it off on purpose before pulumi destroy).`);
        }
    },
};

/** Messages for an HTTP listener's actions: exactly one, a redirect to HTTPS. */
export function httpActionProblems(actions: unknown): string | undefined {
    const list = asArray(actions).map((a) => asRecord(a) ?? {});
    if (list.length !== 1) {
        return `has ${list.length} default actions, not one redirect`;
    }
    const [action] = list;
    const redirect = asRecord(action.redirect);
    if (action.type !== "redirect" || String(redirect?.protocol ?? "").toUpperCase() !== "HTTPS") {
        return `${action.type === "redirect" ? "redirects to protocol " + JSON.stringify(redirect?.protocol ?? "#{protocol}") : "does " + JSON.stringify(action.type ?? "nothing")}, not a redirect to HTTPS`;
    }
    return undefined;
}

export type { ReportViolation };
