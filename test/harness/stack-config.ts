/**
 * Stack configuration as the Pulumi engine would hand it to the program: `stacks/Pulumi.<stack>.yaml`,
 * plus whatever `Pulumi.yaml` declares, merged the way the engine merges it. Mocks read neither,
 * so tests load them here. Pulumi.yaml declares every key with a "not set" default ("" or [""],
 * components/settings/project-config.ts), which reaches the program for every key a stack leaves
 * out, as the engine hands it over.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { setByStack } from "../../components/settings/project-config";

export const ROOT = path.resolve(__dirname, "..", "..");
export const STACKS_DIR = path.join(ROOT, "stacks");

export function projectFile(): { name: string; config?: Record<string, { type?: string; default?: unknown; value?: unknown; description?: string }> } & Record<string, unknown> {
    return YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
}

/** The stack's `spin-cloud:target` (default `aws`). */
export function stackTarget(stack: string): string {
    return setByStack(loadStackConfig(stack))["spin-cloud:target"] ?? "aws";
}

/** Names of every stack that has a file in `stacks/`. */
export function shippedStacks(): string[] {
    return fs.readdirSync(STACKS_DIR)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

/**
 * The operator network the tests evaluate the shipped stacks with. The stack files hold RFC 5737
 * documentation ranges as placeholders, which the program refuses (README "Prerequisites"); a
 * user sets their own, and so do the tests (a private range, as an office VPN would be).
 */
export const TEST_OPERATOR_CIDRS: readonly string[] = ["172.20.0.0/24"];

/**
 * Stack configuration as the tests evaluate it: `shippedStackConfig` with the placeholder
 * operator networks replaced by `TEST_OPERATOR_CIDRS`, as a user does before the first `up`.
 */
export function loadStackConfig(stack: string): Record<string, string> {
    const config = shippedStackConfig(stack);
    if (setByStack(config)["spin-cloud:operatorCidrs"] !== undefined) {
        config["spin-cloud:operatorCidrs"] = JSON.stringify(TEST_OPERATOR_CIDRS);
    }
    return config;
}

/**
 * The shipped stack's config as the engine hands it to the program, following pulumi/pulumi
 * v3.248.0 sdk/go/common/workspace/config.go `mergeConfig`: a project-namespaced key declared in
 * Pulumi.yaml and absent from the stack takes its `default:` (or `value:`), handed to the program
 * as if the stack had set it; one with neither is required ("Stack '<stack>' is missing
 * configuration value '<key>'").
 */
export function shippedStackConfig(stack: string): Record<string, string> {
    const project = projectFile();
    const config: Record<string, string> = {};
    const file = path.join(STACKS_DIR, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(file)) {
        const stackConfig = YAML.parse(fs.readFileSync(file, "utf8"))?.config ?? {};
        for (const [key, value] of Object.entries(stackConfig)) {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    const missing: string[] = [];
    for (const [key, declaration] of Object.entries(project.config ?? {})) {
        const fullKey = key.includes(":") ? key : `${project.name}:${key}`;
        if (config[fullKey] !== undefined) continue;
        const value = declaration.default ?? declaration.value;
        if (value === undefined) {
            if (fullKey.startsWith(`${project.name}:`)) missing.push(key);
            continue;
        }
        // As the engine hands structured values to the program: JSON (a list default `[]` is "[]").
        config[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
    }
    if (missing.length > 0) {
        throw new Error(`Stack '${stack}' is missing configuration ${missing.length > 1 ? "values" : "value"} ${missing.map((k) => `'${k}'`).join(", ")}`);
    }
    return config;
}
