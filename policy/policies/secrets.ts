/**
 * The secret scan of lib/secret-material.ts on every place besides user data where a secret
 * would be readable by more principals than it should: Nomad jobspecs (anyone with read-job
 * sees task env, templates, meta and args), command lines (argv is visible in `ps` and kept in
 * the Pulumi state), tags (readable with ec2:DescribeTags and in billing exports) and SSM
 * parameters that are not SecureStrings.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { allTasks, NomadJob } from "../lib/nomad-job";
import { asArray, asRecord, asString, peek, Props, tagsOf } from "../lib/props";
import { describeFindings, scanJson, scanText, scanValue, SecretFinding } from "../lib/secret-material";
import { validateJob } from "./jobs";

/** Findings in a job: every field with its key path, and each task's command line read as one text. */
export function jobSecrets(job: NomadJob): SecretFinding[] {
    const findings = scanJson(job, "the jobspec");
    for (const task of allTasks(job)) {
        const config = asRecord(task.Config) ?? {};
        const argv = [asString(config.command) ?? "", ...asArray(config.args).map(String)].join(" ");
        findings.push(...scanText(argv, `task '${task.Name}' command line`));
    }
    return findings;
}

export const noSecretsInJobspecs: ResourceValidationPolicy = {
    name: "no-secrets-in-jobspecs",
    description: "Nomad jobspecs (task Env, Templates, Meta, Config args) hold no keys, tokens or credentials.",
    enforcementLevel: "mandatory",
    validateResource: validateJob((job, label, _args, report) => {
        const findings = jobSecrets(job);
        if (findings.length > 0) {
            report(`${label} carries secret material: ${describeFindings(findings)}. Anyone who can read the job sees it. ` +
                `Put it in a Nomad Variable and render it with a template ({{ with nomadVar "…" }}), as SpinApp's secretVariables do.`);
        }
    }),
};

export const COMMAND_TYPES: readonly string[] = ["command:local:Command", "command:remote:Command"];
/** Inputs that become argv or a shell line; `environment` and `stdin` are the channels for secrets. */
const COMMAND_LINE_INPUTS = ["create", "update", "delete", "interpreter", "dir"];

export const noSecretsInCommands: ResourceValidationPolicy = {
    name: "no-secrets-in-commands",
    description: "Command resources keep secrets out of their command lines (create/update/delete/interpreter); pass them in environment or stdin.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (!COMMAND_TYPES.includes(args.type)) {
            return args.notApplicable(`Policy only applies to ${COMMAND_TYPES.join(", ")}`);
        }
        const findings = COMMAND_LINE_INPUTS.flatMap((input) => {
            const value = peek(args.props, input);
            const text = Array.isArray(value) ? value.map(String).join(" ") : asString(value);
            return text === undefined ? [] : scanText(text, input);
        });
        if (findings.length > 0) {
            report(`Command '${args.name}' puts secret material on its command line: ${describeFindings(findings)}. ` +
                `argv is visible to every local user (ps) and stored in the state; pass it in environment (as a Pulumi secret) or stdin.`);
        }
    },
};

/** Every tag of a resource: map tags, Auto Scaling Group tag lists, launch template tagSpecifications. */
function allTags(props: Props): [string, string][] {
    const specs = asArray(props.tagSpecifications).map((s) => tagsOf(asRecord(s) ?? {}));
    return [tagsOf(props), ...specs].flatMap((tags) => Object.entries(tags));
}

export const noSecretsInTags: ResourceValidationPolicy = {
    name: "no-secrets-in-tags",
    description: "Resource tags (and launch template tagSpecifications) hold no keys, tokens or credentials.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const tags = allTags(args.props);
        if (tags.length === 0) {
            return args.notApplicable("the resource has no tags");
        }
        const findings = tags.flatMap(([key, value]) => [...scanValue(value, [key], "tags"), ...scanText(`${key}=${value}`, "tags")]);
        if (findings.length > 0) {
            report(`${args.type} '${args.name}' carries secret material in its tags: ${describeFindings(findings)}. Tags are ` +
                `readable with ec2:DescribeTags and land in billing exports; keep secrets in SSM SecureStrings.`);
        }
    },
};

const PARAMETER_TYPE = "aws:ssm/parameter:Parameter";
/** Parameter names that say the value is a secret. */
const SECRET_NAME = /token|secret|password|passwd|gossip|private[-_]?key|tls[-_]?key|credential/i;

export const ssmSecretsAreSecureStrings: ResourceValidationPolicy = {
    name: "ssm-secrets-are-securestring",
    description: "SSM parameters of type String or StringList neither hold secret material nor have a name that says they do.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== PARAMETER_TYPE) {
            return args.notApplicable(`Policy only applies to ${PARAMETER_TYPE}`);
        }
        if (args.props.type === "SecureString") {
            return args.notApplicable("a SecureString (ssm-securestring-customer-key checks its key)");
        }
        const name = String(peek(args.props, "name") ?? args.name);
        const segments = name.split("/").filter((s) => s !== "");
        // The value is often another resource's output: unknown during preview, then checked during up.
        const value = peek(args.props, "value") ?? peek(args.props, "insecureValue");
        const findings = typeof value === "string" ? scanValue(value, segments, "its value") : [];
        const named = SECRET_NAME.test(segments[segments.length - 1] ?? "");
        if (findings.length > 0 || named) {
            const what = findings.length > 0 ? `carries ${describeFindings(findings)}` : `is named like a secret (${name})`;
            report(`SSM parameter '${args.name}' is a plain ${String(args.props.type)} and ${what}. Anyone with ssm:GetParameter ` +
                `reads it, and it is stored unencrypted. Make it a SecureString with the cluster's KMS key.`);
        }
    },
};
