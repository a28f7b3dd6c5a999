/**
 * Stack configuration as the Pulumi engine would hand it to the program: `Pulumi.yaml` defaults
 * overlaid with `stacks/Pulumi.<stack>.yaml`. Mocks read neither, so tests load them here.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export const ROOT = path.resolve(__dirname, "..", "..");
export const STACKS_DIR = path.join(ROOT, "stacks");

export function projectFile(): { name: string; config: Record<string, { type: string; default?: unknown; description?: string }> } & Record<string, unknown> {
    return YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
}

/** The stack's `spin-cloud:target` (default `aws`). */
export function stackTarget(stack: string): string {
    return loadStackConfig(stack)["spin-cloud:target"] ?? "aws";
}

/** Names of every stack that has a file in `stacks/`. */
export function shippedStacks(): string[] {
    return fs.readdirSync(STACKS_DIR)
        .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
        .filter((name): name is string => name !== undefined)
        .sort();
}

export function loadStackConfig(stack: string): Record<string, string> {
    const project = projectFile();
    const config: Record<string, string> = {};
    for (const [key, declaration] of Object.entries(project.config ?? {})) {
        if (declaration.default !== undefined) {
            // As the engine hands structured values to the program: JSON (a list default `[]` is "[]").
            const value = declaration.default;
            config[`${project.name}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    const file = path.join(STACKS_DIR, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(file)) {
        const stackConfig = YAML.parse(fs.readFileSync(file, "utf8"))?.config ?? {};
        for (const [key, value] of Object.entries(stackConfig)) {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return config;
}
