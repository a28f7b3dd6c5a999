/** Policies on EC2 nodes, their volumes and the SSM parameters that hold cluster secrets. */
import * as aws from "@pulumi/aws";
import { ReportViolation, ResourceValidationPolicy, validateResourceOfType } from "@pulumi/policy";
import { asArray, asNumber, asRecord, isSetString, isTrue, peek, Props } from "../lib/props";
import { configSchema, tunables } from "./config";

/**
 * Problems of a `metadataOptions` block, read whole: IMDS off (`httpEndpoint: "disabled"`) is
 * fine; on, it must need session tokens (`httpTokens: "required"`) and answer one hop only
 * (`httpPutResponseHopLimit: 1`, set explicitly: an AMI can default it to 2, which lets a
 * container on the node reach the instance role's credentials).
 */
export function metadataOptionsProblems(options: Props | undefined): string[] {
    if (options?.httpEndpoint === "disabled") {
        return [];
    }
    const problems: string[] = [];
    if (options?.httpTokens !== "required") {
        problems.push(`allows IMDSv1 (metadataOptions.httpTokens is ${JSON.stringify(options?.httpTokens ?? "unset")})`);
    }
    const hops = asNumber(options?.httpPutResponseHopLimit);
    if (hops !== 1) {
        problems.push(`lets IMDS answer ${hops === undefined ? "an unset number of" : hops} hop(s) ` +
            `(metadataOptions.httpPutResponseHopLimit is ${JSON.stringify(options?.httpPutResponseHopLimit ?? "unset")}, not 1)`);
    }
    return problems;
}

function requireImdsV2(props: Props, what: string, report: ReportViolation): void {
    for (const problem of metadataOptionsProblems(asRecord(props.metadataOptions))) {
        report(`${what} ${problem}. Set metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", ` +
            `httpPutResponseHopLimit: 1 } so instance credentials need a session token and stay on the node.`);
    }
}

export const imdsV2Required: ResourceValidationPolicy = {
    name: "imdsv2-required",
    description: "EC2 instances and launch templates require IMDSv2 with a hop limit of 1 (whole metadataOptions).",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.ec2.Instance, (instance, args, report) =>
            requireImdsV2(instance as unknown as Props, `Instance '${args.name}'`, report)),
        validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, report) =>
            requireImdsV2(template as unknown as Props, `Launch template '${args.name}'`, report)),
    ],
};

/** Problems with the EBS volumes of an instance: root device and extra EBS devices. */
export function instanceVolumeProblems(props: Props): string[] {
    const root = asRecord(props.rootBlockDevice);
    const problems = root === undefined
        ? ["has no rootBlockDevice, so the root volume is only encrypted if the account enables EBS encryption by default"]
        : isTrue(root.encrypted) ? [] : ["rootBlockDevice.encrypted is not true"];
    asArray(props.ebsBlockDevices).forEach((device, i) => {
        if (!isTrue(asRecord(device)?.encrypted)) {
            problems.push(`ebsBlockDevices[${i}].encrypted is not true`);
        }
    });
    return problems;
}

/** Problems with a launch template's block device mappings (mappings without `ebs` make no volume). */
export function launchTemplateVolumeProblems(props: Props): string[] {
    const mappings = asArray(props.blockDeviceMappings).map((m) => asRecord(m) ?? {});
    const ebs = mappings.map((m, i) => [i, asRecord(m.ebs)] as const).filter(([, e]) => e !== undefined);
    if (ebs.length === 0) {
        return ["maps no EBS volume, so the root volume is only encrypted if the account enables EBS encryption by default"];
    }
    return ebs.filter(([, e]) => !isTrue(e?.encrypted)).map(([i]) => `blockDeviceMappings[${i}].ebs.encrypted is not "true"`);
}

export const ebsEncryptionRequired: ResourceValidationPolicy = {
    name: "ebs-encryption-required",
    description: "Every EBS volume is encrypted: instance root and EBS devices, launch template mappings, aws.ebs.Volume.",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.ec2.Instance, (instance, args, report) => {
            for (const problem of instanceVolumeProblems(instance as unknown as Props)) {
                report(`Instance '${args.name}' ${problem}. Declare rootBlockDevice (and every ebsBlockDevices entry) with encrypted: true.`);
            }
        }),
        validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, report) => {
            for (const problem of launchTemplateVolumeProblems(template as unknown as Props)) {
                report(`Launch template '${args.name}' ${problem}. Map the root device with ebs: { encrypted: "true", ... }.`);
            }
        }),
        validateResourceOfType(aws.ebs.Volume, (volume, args, report) => {
            if (!isTrue(volume.encrypted)) {
                report(`EBS volume '${args.name}' is not encrypted. Set encrypted: true (and kmsKeyId for a customer key).`);
            }
        }),
    ],
};

/** The AWS managed SSM key: usable by every principal allowed to call SSM in the account. */
const AWS_MANAGED_SSM_KEY = /(^|:)alias\/aws\/ssm$/;

export const secureStringCustomerKey: ResourceValidationPolicy = {
    name: "ssm-securestring-customer-key",
    description: "SSM SecureString parameters are encrypted with a customer-managed KMS key (keyId set).",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ssm.Parameter, (parameter, args, report) => {
        if (parameter.type !== "SecureString") {
            return;
        }
        const props = parameter as unknown as Props;
        // keyId is usually a KMS key's ARN output: unknown during preview, and set all the same.
        if (!isSetString(props, "keyId")) {
            report(`SecureString parameter '${args.name}' has no keyId, so SSM encrypts it with the AWS managed key. ` +
                `Set keyId to the ARN of the cluster's KMS key (ClusterSecrets creates one).`);
        } else if (AWS_MANAGED_SSM_KEY.test(String(peek(props, "keyId")))) {
            report(`SecureString parameter '${args.name}' uses the AWS managed key alias/aws/ssm. ` +
                `Set keyId to the ARN of a customer-managed KMS key.`);
        }
    }),
};

/** `m7g` of `m7g.large`. */
export function instanceFamily(instanceType: string): string {
    return instanceType.split(".")[0];
}

function checkFamily(instanceType: unknown, what: string, allowed: readonly string[], report: ReportViolation): void {
    if (typeof instanceType === "string" && !allowed.includes(instanceFamily(instanceType))) {
        report(`${what} uses instance type ${instanceType}, whose family '${instanceFamily(instanceType)}' is not in ` +
            `allowedInstanceFamilies (${allowed.join(", ")}). Pick an allowed family, or add it to the policy config.`);
    }
}

export const allowedInstanceFamilies: ResourceValidationPolicy = {
    name: "allowed-instance-families",
    description: "EC2 instances and launch templates use an instance family from the allowed list.",
    enforcementLevel: "advisory",
    configSchema: configSchema("allowedInstanceFamilies"),
    validateResource: [
        validateResourceOfType(aws.ec2.Instance, (instance, args, report) => {
            const { allowedInstanceFamilies: allowed } = tunables(args.getConfig, "allowedInstanceFamilies");
            checkFamily(instance.instanceType, `Instance '${args.name}'`, allowed, report);
        }),
        validateResourceOfType(aws.ec2.LaunchTemplate, (template, args, report) => {
            const { allowedInstanceFamilies: allowed } = tunables(args.getConfig, "allowedInstanceFamilies");
            checkFamily(template.instanceType, `Launch template '${args.name}'`, allowed, report);
        }),
    ],
};
