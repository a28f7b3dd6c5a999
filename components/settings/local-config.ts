/**
 * Settings of the target choice and of the local target, beside the AWS ones in config.ts. A stack
 * picks its target with `spin-cloud:target`; a key that means nothing on that target is refused,
 * so a setting is never silently ignored.
 */
import * as os from "os";
import * as path from "path";
import { isSafeAbsolutePath, LOCAL_PORT_OFFSET } from "../../provisioning/loopback";
import { ConfigError, SETTINGS, argsFromConfig, resolveSpinCloudArgs } from "./config";

export const TARGETS = ["aws", "local"] as const;
export type Target = (typeof TARGETS)[number];

interface LocalSetting {
    readonly type: "string" | "integer";
    readonly default: string | number;
    readonly description: string;
}

export const LOCAL_SETTINGS = {
    target: { type: "string", default: "aws", description: "Where the cloud runs: 'aws', or 'local' (this machine, for trying spin-cloud out)." },
    localStateDir: { type: "string", default: "", description: "local target: directory of agent config, data, logs and pid files; empty: ~/.spin-cloud/<stack>." },
    localCacheDir: { type: "string", default: "", description: "local target: where verified binaries are kept; empty: $XDG_CACHE_HOME/spin-cloud, else ~/.cache/spin-cloud." },
    localPortOffset: { type: "integer", default: LOCAL_PORT_OFFSET.default, description: "local target: added to every agent's standard port (Nomad 4646 becomes 14646 by default)." },
} as const satisfies Record<string, LocalSetting>;

type LocalKey = Exclude<keyof typeof LOCAL_SETTINGS, "target">;

/** AWS settings that also apply on the local target. */
export const SHARED_SETTING_KEYS = ["nomadRegion", "datacenter", "exampleApp", "expectedVersions"] as const satisfies readonly (keyof typeof SETTINGS)[];

/** Every key a stack may set, whatever the target. */
export function allSettingKeys(): string[] {
    return [...Object.keys(SETTINGS), ...Object.keys(LOCAL_SETTINGS)];
}

export interface LocalCloudArgs {
    /** Absolute directory of the agents' config, data, logs and pid files. */
    stateDir: string;
    /** Absolute directory of the verified binaries. */
    cacheDir: string;
    /** LOCAL_PORT_OFFSET: added to every standard port. */
    portOffset: number;
    nomadRegion: string;
    datacenter: string;
    exampleApp: boolean;
}

/** The target of a stack; fails on anything but `aws` and `local`. */
export function targetOf(get: (key: string) => string | undefined): Target {
    const value = get("target") ?? LOCAL_SETTINGS.target.default;
    if (!(TARGETS as readonly string[]).includes(value)) {
        throw new ConfigError("target", value, `one of ${TARGETS.map((t) => `'${t}'`).join(", ")}`);
    }
    return value as Target;
}

/**
 * Fails on any setting of the other target that the stack sets, whatever its value (its default
 * included: `serverCount: "3"` on a local stack is refused). The program can tell "set" from
 * "defaulted" because Pulumi.yaml's defaults mean "not set" and `setByStack` (project-config.ts)
 * drops them: `config` holds only what the stack sets, keys `spin-cloud:<key>`.
 */
export function checkTargetKeys(target: Target, config: Readonly<Record<string, string>>): void {
    const localOnly = Object.keys(LOCAL_SETTINGS).filter((k) => k !== "target");
    const awsOnly = Object.keys(SETTINGS).filter((k) => !(SHARED_SETTING_KEYS as readonly string[]).includes(k));
    const foreign = target === "local" ? awsOnly : localOnly;
    for (const key of foreign) {
        const value = config[`spin-cloud:${key}`];
        if (value !== undefined) {
            throw new ConfigError(key, value, `nothing on target '${target}': it is a setting of target '${target === "local" ? "aws" : "local"}'; remove it from this stack`);
        }
    }
}

function absoluteDir(key: LocalKey, value: string): string {
    if (!isSafeAbsolutePath(value)) {
        throw new ConfigError(key, value, "an absolute path of letters, digits and . _ + - / (no spaces, no ~)");
    }
    return value.replace(/(.)\/+$/, "$1");
}

/**
 * Local settings with their defaults: directories under the user's home (or XDG cache), checked
 * like every other setting. `env` and `home` are parameters so tests do not depend on the machine.
 */
export function resolveLocalCloudArgs(
    get: (key: string) => string | undefined,
    stack: string,
    home: string = os.homedir(),
    env: NodeJS.ProcessEnv = process.env,
): LocalCloudArgs {
    const offsetRaw = get("localPortOffset");
    const portOffset = offsetRaw === undefined ? LOCAL_PORT_OFFSET.default : Number(offsetRaw);
    if (!Number.isInteger(portOffset) || portOffset < LOCAL_PORT_OFFSET.min || portOffset > LOCAL_PORT_OFFSET.max) {
        throw new ConfigError("localPortOffset", offsetRaw, `an integer from ${LOCAL_PORT_OFFSET.min} to ${LOCAL_PORT_OFFSET.max}`);
    }
    const cacheRoot = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, ".cache");
    const stateDir = absoluteDir("localStateDir", get("localStateDir") || path.join(home, ".spin-cloud", stack));
    const cacheDir = absoluteDir("localCacheDir", get("localCacheDir") || path.join(cacheRoot, "spin-cloud"));
    // The shared keys are parsed and checked by the same rules as on AWS (operatorCidrs is AWS-only).
    const fromConfig = argsFromConfig(get);
    const shared = resolveSpinCloudArgs({
        ...Object.fromEntries(SHARED_SETTING_KEYS.map((key) => [key, fromConfig[key]])),
        operatorCidrs: ["127.0.0.1/32"],
    });
    return { stateDir, cacheDir, portOffset, nomadRegion: shared.nomadRegion, datacenter: shared.datacenter, exampleApp: shared.exampleApp };
}
