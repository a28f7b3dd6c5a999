/** Policies that read the user data of instances and launch templates. */
import { ReportViolation, ResourceValidation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { AgentRole, consulConfigProblems, nomadConfigProblems, parseAgentJson } from "../lib/agent-config";
import { asArray, asRecord, Props, tagsOf } from "../lib/props";
import { describeFindings, scanJson, scanText, SecretFinding } from "../lib/secret-material";
import { ROLE_TAG } from "../lib/stack";
import { CloudConfig, cloudConfigOfUserData, fileAt, INSTANCE_TYPE, LAUNCH_TEMPLATE_TYPE, parseCloudConfig, userDataText } from "../lib/user-data";
import { userDataParts } from "../lib/user-data-parts";

const NODE_ROLES: readonly string[] = ["server", "client"];

/** A node's role from its tags, or (launch templates) from the tags it gives instances. */
export function nodeRole(type: string, props: Props): AgentRole | undefined {
    const instanceTags = asArray(props.tagSpecifications).map((s) => asRecord(s) ?? {})
        .filter((s) => s.resourceType === "instance").map((s) => tagsOf(s));
    const role = [tagsOf(props), ...(type === LAUNCH_TEMPLATE_TYPE ? instanceTags : [])]
        .map((tags) => tags[ROLE_TAG]).find((r) => r !== undefined);
    return role !== undefined && NODE_ROLES.includes(role) ? role as AgentRole : undefined;
}

function userDataValidation(check: (args: ResourceValidationArgs, report: ReportViolation, what: string) => void): ResourceValidation {
    return (args, report) => {
        if (args.type !== INSTANCE_TYPE && args.type !== LAUNCH_TEMPLATE_TYPE) {
            return args.notApplicable("Policy only applies to EC2 instances and launch templates");
        }
        const what = `${args.type === INSTANCE_TYPE ? "Instance" : "Launch template"} '${args.name}'`;
        check(args, report, what);
    };
}

interface AgentFile {
    readonly agent: "Consul" | "Nomad";
    readonly path: string;
    readonly problems: (config: Props, role: AgentRole | undefined) => string[];
}

const AGENT_FILES: readonly AgentFile[] = [
    { agent: "Consul", path: NODE_LAYOUT.consul.configFile, problems: consulConfigProblems },
    { agent: "Nomad", path: NODE_LAYOUT.nomad.configFile, problems: (config) => nomadConfigProblems(config) },
];

/** Problems of the agent configs in a cloud-config; a node with a `role` must carry both configs. */
export function agentConfigProblems(cloudConfig: CloudConfig, role: AgentRole | undefined): string[] {
    return AGENT_FILES.flatMap((file) => {
        const text = fileAt(cloudConfig, file.path);
        if (text === undefined) {
            return role ? [`writes no ${file.agent} agent config to ${file.path}`] : [];
        }
        const config = parseAgentJson(text);
        if (!config) {
            return [`${file.agent} agent config ${file.path} is not a JSON object`];
        }
        return file.problems(config, role).map((p) => `${file.agent} agent config ${file.path}: ${p}`);
    });
}

export const agentAclTlsEnabled: ResourceValidationPolicy = {
    name: "agent-acl-tls-enabled",
    description: "Consul and Nomad agent configs in user data enable ACLs (default deny) and verified TLS.",
    enforcementLevel: "mandatory",
    validateResource: userDataValidation((args, report, what) => {
        const role = nodeRole(args.type, args.props);
        const text = userDataText(args.type, args.props);
        if (text === undefined || !text.ok) {
            if (role) {
                report(`${what} is a Nomad ${role} (${ROLE_TAG}=${role}) but its user data ${text ? text.reason : "is empty"}. ` +
                    `Render it with provisioning/aws/cloud-init.ts (launch templates take it base64-encoded).`);
            }
            return;
        }
        const parsed = cloudConfigOfUserData(text.value);
        if (!parsed.ok) {
            if (role) {
                report(`${what} is a Nomad ${role} but its user data ${parsed.reason}, so its agent configs cannot be ` +
                    `checked. Render it with provisioning/aws/cloud-init.ts.`);
            }
            return;
        }
        for (const problem of agentConfigProblems(parsed.value, role)) {
            report(`${what} ${problem}. Fix the renderer in provisioning/ (consul-config.ts, nomad-config.ts): ACLs on ` +
                `with default deny, TLS with the cluster CA and verify_server_hostname.`);
        }
    }),
};

/**
 * Secret material anywhere in user data: every part of every format cloud-init reads
 * (user-data-parts.ts), the parsed cloud-config documents (keys name what a bare value is), and
 * the decoded files they write.
 */
export function userDataSecrets(text: string): SecretFinding[] {
    let parts;
    try {
        parts = userDataParts(text);
    } catch {
        return scanText(text, "user data");
    }
    return parts.flatMap((part) => {
        const findings = scanText(part.content, part.where);
        if (part.type !== "text/cloud-config") {
            return findings;
        }
        const parsed = parseCloudConfig(part.content.trimStart());
        if (parsed.ok) {
            findings.push(...scanJson({ ...parsed.value.document, write_files: undefined }, part.where));
            for (const file of parsed.value.files) {
                const where = `write_files ${file.path}`;
                findings.push(...scanText(file.content, where));
                const json = parseAgentJson(file.content);
                if (json) {
                    findings.push(...scanJson(json, where));
                }
            }
        }
        return findings;
    });
}

export const noSecretsInUserData: ResourceValidationPolicy = {
    name: "no-secrets-in-user-data",
    description: "User data holds no private keys, gossip encryption keys or ACL tokens (it is readable via the EC2 API).",
    enforcementLevel: "mandatory",
    validateResource: userDataValidation((args, report, what) => {
        const text = userDataText(args.type, args.props);
        if (text === undefined || !text.ok) {
            return;
        }
        const findings = userDataSecrets(text.value);
        if (findings.length > 0) {
            report(`${what} carries secret material in its user data: ${describeFindings(findings)}. Anyone allowed ` +
                `ec2:DescribeInstanceAttribute can read it. Store it as an SSM SecureString (provisioning/agents/secrets.ts) and ` +
                `fetch it at boot.`);
        }
    }),
};
