/**
 * The `config:` block of Pulumi.yaml, rendered from SETTINGS and LOCAL_SETTINGS (the one source of
 * truth; test/project/project-file.test.ts fails when Pulumi.yaml differs, and
 * `npm run render:project-config` rewrites it), and how the program reads what it declares.
 *
 * Pulumi.yaml declares every key with its description (real default, allowed values, target) and
 * a "not set" default, never the real one. The engine hands a declared default to the program for
 * a key the stack leaves out, as if the stack had set it, and makes a declared key without
 * `default` or `value` required (pulumi/pulumi v3.248.0 sdk/go/common/workspace/config.go
 * mergeConfig); it refuses a default that is not of the key's declared type (project.go
 * Project.Validate, ValidateConfigValue). Hence scalar keys are declared `type: string` with
 * `default: ""` (a stack's `serverCount: 3` or `exampleApp: true` still passes: the engine keeps a
 * YAML number or boolean as its text, resource/config/object.go MarshalString), lists
 * `type: array` of strings with `default: [""]`, which reaches the program as that JSON text
 * (createConfigValue). Neither is a valid value of any key, or it is the key's own default (empty
 * `appsDomain`, `hostedZoneId`, `localStateDir`, `localCacheDir`), so a key at its not-set value
 * counts as not set, and a setting of the other target copied at its real default is still refused.
 */
import { SETTINGS } from "./config";
import { LOCAL_SETTINGS, SHARED_SETTING_KEYS } from "./local-config";

/** What Pulumi.yaml declares as the default of a key, as the program receives it: "not set". */
export const NOT_SET = { string: "", array: '[""]' } as const;

/**
 * The stack config as the stack set it: every `spin-cloud:` key at its `NOT_SET` value dropped, so
 * a key present was set by the stack, even at its real default value (`serverCount: "3"`).
 */
export function setByStack(all: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(all).filter(([key, value]) =>
        !(key.startsWith("spin-cloud:") && (value === NOT_SET.string || value === NOT_SET.array))));
}

/** One key of Pulumi.yaml's `config:` (pulumi/pulumi v3.248.0 sdk/go/common/workspace/project.go ProjectConfigType). */
export type ProjectConfigDeclaration =
    | { readonly type: "string"; readonly description: string; readonly default: "" }
    | { readonly type: "array"; readonly items: { readonly type: "string" }; readonly description: string; readonly default: readonly [""] };

interface AnySetting {
    readonly type: "integer" | "string" | "array" | "boolean";
    readonly default: unknown;
    readonly description: string;
}

function valueText(setting: AnySetting): string {
    const shown = typeof setting.default === "string" ? (setting.default === "" ? "empty" : setting.default) : JSON.stringify(setting.default);
    const kind = { integer: "An integer", boolean: "true or false", string: "Text", array: "A list of strings" }[setting.type];
    return `${kind}; default ${shown}`;
}

function targetText(key: string): string {
    if (key === "target") return "any target";
    if (key in LOCAL_SETTINGS) return "target local only";
    return (SHARED_SETTING_KEYS as readonly string[]).includes(key) ? "targets aws and local" : "target aws only";
}

/** Pulumi.yaml's `config:` block: every setting, in table order, AWS settings first. */
export function projectConfig(): Record<string, ProjectConfigDeclaration> {
    const settings: Record<string, AnySetting> = { ...SETTINGS, ...LOCAL_SETTINGS };
    return Object.fromEntries(Object.entries(settings).map(([key, setting]) => {
        const description = `${setting.description} ${valueText(setting)}; ${targetText(key)}.`;
        const declaration: ProjectConfigDeclaration = setting.type === "array"
            ? { type: "array", items: { type: "string" }, description, default: [NOT_SET.string] }
            : { type: "string", description, default: NOT_SET.string };
        return [key, declaration];
    }));
}
