/**
 * The one place where spin-cloud's settings, their defaults and their limits live.
 *
 * `SETTINGS` describes every key the program reads from stack config (`spin-cloud:<key>`): type,
 * default, description. `Pulumi.yaml` declares each with its description and a "not set" default
 * (`NOT_SET`, rendered by project-config.ts), never the real default: the engine hands a declared
 * default to the program as if the stack had set it. `resolveSpinCloudArgs`
 * validates user input before any resource is registered and throws a `ConfigError` naming the
 * key, the bad value and what is allowed.
 */
import { Architecture } from "../../provisioning/types";
import { PINNED_VERSIONS } from "../../provisioning/versions";
import { MAX_AVAILABILITY_ZONES, parseIpv4Cidr } from "./cidr";
import { ConfigError } from "./config-error";
import { validateDomain, validateOperatorCidrs } from "./endpoint-settings";

export { ConfigError } from "./config-error";
export { DOCUMENTATION_CIDRS } from "./endpoint-settings";

export type NatGatewayMode = "single" | "perAz";

/** Arguments of `SpinCloud`. Every field is optional; `SETTINGS` holds the defaults. */
export interface SpinCloudArgs {
    /** Availability zones to spread subnets and nodes over (2–6). */
    availabilityZoneCount?: number;
    /** IPv4 CIDR of the VPC, a network between /16 and /24. */
    vpcCidr?: string;
    /** `single`: one NAT gateway (cheaper); `perAz`: one per zone (survives a zone outage). */
    natGateways?: NatGatewayMode;
    /** CPU architecture of every node: `arm64` (Graviton) or `x86_64`. */
    architecture?: Architecture;
    /** Nomad and Consul servers: an odd number from 3 to 9. */
    serverCount?: number;
    /** EC2 instance type of the servers; must match `architecture`. */
    serverInstanceType?: string;
    /** EC2 instance type of the clients; must match `architecture`. */
    clientInstanceType?: string;
    /** Auto Scaling Group bounds and desired size of the Nomad clients. */
    clientMinSize?: number;
    clientMaxSize?: number;
    clientDesiredSize?: number;
    /** Nomad region name (appears in TLS names `server.<region>.nomad`). */
    nomadRegion?: string;
    /** Consul and Nomad datacenter name. */
    datacenter?: string;
    /** Size of every node's encrypted gp3 root volume, GiB. */
    rootVolumeSizeGb?: number;
    /**
     * DNS domain under which apps get names (`<app>.<appsDomain>`); needs `hostedZoneId`. Empty:
     * no domain, apps are served over HTTP on the load balancer's name by path (see README).
     */
    appsDomain?: string;
    /** Route 53 hosted zone that holds `appsDomain` (for the ACM certificate and app records). */
    hostedZoneId?: string;
    /**
     * IPv4 CIDRs of the operators (and of wherever `pulumi up` runs): only they reach the Nomad,
     * Consul, Traefik dashboard and Bindle endpoints. At least one; never the whole internet.
     */
    operatorCidrs?: string[];
    /** Deploy the example Spin app in `apps/hello` (build it first with `bash apps/build.sh`). */
    exampleApp?: boolean;
    /**
     * Production load balancers: deletion protection on both, and access logs to an encrypted S3
     * bucket (README "Outputs and access"). Off by default, so a dev stack destroys cleanly.
     */
    loadBalancerProtection?: boolean;
    /**
     * Generation of the platform libSQL server's token-signing key (docs/libsql.md "Tokens"):
     * bump it by one to rotate. At generation N the apps' tokens are signed with key N and sqld
     * trusts keys N and N-1, so no running token is refused; key N-1 stays trusted until the next
     * bump (to retire a leaked key at once, bump twice, one `pulumi up` each).
     */
    libsqlSigningKeyGeneration?: number;
    /**
     * Versions this stack expects, as `<product>@<version>` (nomad, consul, spin, traefik,
     * bindle). Each must be the version spin-cloud pins, so an upgrade of spin-cloud that moves a
     * pin stops `pulumi preview` on this key instead of rolling every node unannounced.
     */
    expectedVersions?: string[];
}

export type ResolvedSpinCloudArgs = Required<SpinCloudArgs>;
type SettingKey = keyof SpinCloudArgs;

interface Setting<K extends SettingKey> {
    readonly type: "integer" | "string" | "array" | "boolean";
    readonly default: ResolvedSpinCloudArgs[K];
    readonly description: string;
}

export const SETTINGS: { readonly [K in SettingKey]: Setting<K> } = {
    availabilityZoneCount: { type: "integer", default: 3, description: "Availability zones to spread subnets and nodes over (2-6)." },
    vpcCidr: { type: "string", default: "10.40.0.0/16", description: "IPv4 CIDR of the VPC (a network from /16 to /24)." },
    natGateways: { type: "string", default: "single", description: "NAT gateways: 'single' (one, cheaper) or 'perAz' (one per zone, zone-outage tolerant)." },
    architecture: { type: "string", default: "arm64", description: "CPU architecture of every node: 'arm64' (Graviton) or 'x86_64'." },
    serverCount: { type: "integer", default: 3, description: "Nomad + Consul servers: an odd number from 3 to 9, spread over the zones." },
    serverInstanceType: { type: "string", default: "t4g.medium", description: "EC2 instance type of the servers (must match architecture)." },
    clientInstanceType: { type: "string", default: "t4g.large", description: "EC2 instance type of the Nomad clients (must match architecture)." },
    clientMinSize: { type: "integer", default: 2, description: "Minimum size of the client Auto Scaling Group." },
    clientMaxSize: { type: "integer", default: 4, description: "Maximum size of the client Auto Scaling Group." },
    clientDesiredSize: { type: "integer", default: 2, description: "Desired size of the client Auto Scaling Group (between min and max)." },
    nomadRegion: { type: "string", default: "global", description: "Nomad region name." },
    datacenter: { type: "string", default: "dc1", description: "Consul and Nomad datacenter name." },
    rootVolumeSizeGb: { type: "integer", default: 30, description: "Encrypted gp3 root volume size of every node, GiB (20-1000)." },
    appsDomain: { type: "string", default: "", description: "Domain for app names (<app>.<appsDomain>, TLS by ACM); empty for HTTP on the load balancer name. Needs hostedZoneId." },
    hostedZoneId: { type: "string", default: "", description: "Route 53 hosted zone id of appsDomain (empty when appsDomain is empty)." },
    exampleApp: { type: "boolean", default: false, description: "Deploy the example Spin app in apps/hello (build it first: bash apps/build.sh)." },
    loadBalancerProtection: { type: "boolean", default: false, description: "Deletion protection and access logs (encrypted S3 bucket) on both load balancers; set it in production." },
    libsqlSigningKeyGeneration: { type: "integer", default: 1, description: "Generation of the platform libSQL server's token-signing key; bump it by exactly one to rotate (sqld trusts this key and the previous one, the apps get tokens of this one; a jump or a step back gets 401s; to retire a leaked key at once, bump twice, one up each)." },
    operatorCidrs: { type: "array", default: [], description: "IPv4 CIDRs allowed to reach Nomad, Consul, the Traefik dashboard and Bindle (include where pulumi up runs). Required; never 0.0.0.0/0." },
    expectedVersions: { type: "array", default: [], description: "Versions this stack expects, as product@version (nomad, consul, spin, traefik, bindle, libsql); each must be the one spin-cloud pins, so a changed pin stops preview." },
};


const NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
const INSTANCE_TYPE_PATTERN = /^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)$/;

/** Graviton families carry a `g` right after the generation digit: t4g, m7g, c7gn, r8gd. */
export function instanceTypeArchitecture(instanceType: string): Architecture | undefined {
    const match = INSTANCE_TYPE_PATTERN.exec(instanceType);
    if (!match) {
        return undefined;
    }
    return match[3].startsWith("g") ? "arm64" : "x86_64";
}

/** `max` left out: no upper bound (up to the largest safe integer). */
function integerIn(key: SettingKey, value: number, min: number, max?: number): void {
    if (!Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
        throw new ConfigError(key, value, max === undefined ? `an integer of ${min} or more` : `an integer from ${min} to ${max}`);
    }
}

function oneOf<T extends string>(key: SettingKey, value: string, allowed: readonly T[]): T {
    if (!(allowed as readonly string[]).includes(value)) {
        throw new ConfigError(key, value, `one of ${allowed.map((a) => `'${a}'`).join(", ")}`);
    }
    return value as T;
}

function instanceTypeFor(key: SettingKey, value: string, architecture: Architecture): void {
    const arch = instanceTypeArchitecture(value);
    if (arch === undefined) {
        throw new ConfigError(key, value, "an EC2 instance type such as 't4g.medium' or 'm7i.large'");
    }
    if (arch !== architecture) {
        throw new ConfigError(key, value,
            `an ${architecture} instance type, because spin-cloud:architecture is '${architecture}' ` +
            `(Graviton families such as t4g, m7g, c7g are arm64)`);
    }
}

/** Applies defaults and validates every field. Throws `ConfigError` on the first bad field. */
export function resolveSpinCloudArgs(args: SpinCloudArgs): ResolvedSpinCloudArgs {
    const merged = { ...defaults(), ...definedOnly(args) };

    integerIn("availabilityZoneCount", merged.availabilityZoneCount, 2, MAX_AVAILABILITY_ZONES);
    const vpc = parseIpv4Cidr(merged.vpcCidr);
    if (!vpc || vpc.prefix < 16 || vpc.prefix > 24) {
        throw new ConfigError("vpcCidr", merged.vpcCidr, "an IPv4 network in CIDR form from /16 to /24 with zero host bits, e.g. '10.40.0.0/16'");
    }
    oneOf("natGateways", merged.natGateways, ["single", "perAz"] as const);
    oneOf("architecture", merged.architecture, ["arm64", "x86_64"] as const);
    if (!Number.isInteger(merged.serverCount) || merged.serverCount < 3 || merged.serverCount > 9 || merged.serverCount % 2 === 0) {
        throw new ConfigError("serverCount", merged.serverCount, "an odd number from 3 to 9 (Raft needs a majority of servers; 3 or 5 is typical)");
    }
    instanceTypeFor("serverInstanceType", merged.serverInstanceType, merged.architecture);
    instanceTypeFor("clientInstanceType", merged.clientInstanceType, merged.architecture);
    integerIn("clientMinSize", merged.clientMinSize, 1, 1000);
    integerIn("clientMaxSize", merged.clientMaxSize, 1, 1000);
    if (merged.clientMinSize > merged.clientMaxSize) {
        throw new ConfigError("clientMinSize", merged.clientMinSize, `at most spin-cloud:clientMaxSize (${merged.clientMaxSize})`);
    }
    integerIn("clientDesiredSize", merged.clientDesiredSize, merged.clientMinSize, merged.clientMaxSize);
    for (const key of ["nomadRegion", "datacenter"] as const) {
        if (!NAME_PATTERN.test(merged[key])) {
            throw new ConfigError(key, merged[key], "2-32 lowercase letters, digits and '-', starting with a letter (it becomes part of TLS names)");
        }
    }
    integerIn("rootVolumeSizeGb", merged.rootVolumeSizeGb, 20, 1000);
    validateDomain(merged.appsDomain, merged.hostedZoneId);
    validateOperatorCidrs(merged.operatorCidrs);
    for (const key of ["exampleApp", "loadBalancerProtection"] as const) {
        if (typeof merged[key] !== "boolean") throw new ConfigError(key, merged[key], "true or false");
    }
    integerIn("libsqlSigningKeyGeneration", merged.libsqlSigningKeyGeneration, 1);
    checkExpectedVersions(merged.expectedVersions);
    return merged;
}

/** Each entry names a known product once, at exactly the version spin-cloud pins. */
export function checkExpectedVersions(entries: readonly string[]): void {
    const pinned: Readonly<Record<string, string>> = PINNED_VERSIONS;
    const products = Object.keys(pinned);
    const seen = new Set<string>();
    for (const entry of entries) {
        const match = typeof entry === "string" ? /^([a-z]+)@v?([0-9][0-9A-Za-z.+-]*)$/.exec(entry) : null;
        if (!match || !products.includes(match[1])) {
            throw new ConfigError("expectedVersions", entry, `entries '<product>@<version>' with product one of ${products.join(", ")}, e.g. 'nomad@${pinned.nomad}'`);
        }
        const [, product, version] = match;
        if (seen.has(product)) {
            throw new ConfigError("expectedVersions", entry, `one entry per product; ${product} is named twice`);
        }
        seen.add(product);
        if (version !== pinned[product]) {
            throw new ConfigError("expectedVersions", entry,
                `${product}@${pinned[product]}, the only ${product} version this spin-cloud pins with checksums; ` +
                `to move to it, change this entry (nodes are replaced or jobs rolled on the next up)`);
        }
    }
}

export function defaults(): ResolvedSpinCloudArgs {
    const entries = Object.entries(SETTINGS).map(([key, setting]) => [key, setting.default]);
    return Object.fromEntries(entries) as ResolvedSpinCloudArgs;
}

function definedOnly(args: SpinCloudArgs): SpinCloudArgs {
    return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as SpinCloudArgs;
}

/**
 * Fails on a `spin-cloud:` key that no setting has: a typo such as `spin-cloud:serverCont`
 * would otherwise be ignored and the default used without a word.
 */
export function rejectUnknownKeys(configKeys: readonly string[], known: readonly string[] = Object.keys(SETTINGS)): void {
    for (const fullKey of configKeys) {
        const [namespace, key] = fullKey.split(":", 2);
        if (namespace === "spin-cloud" && !known.includes(key)) {
            throw new ConfigError(key, "(set)", `an existing setting; known settings are ${known.join(", ")}`);
        }
    }
}

/**
 * Reads every setting from stack config through `get(key)` (a `pulumi.Config`'s `get`). Integers
 * are parsed here so a non-number fails with the same kind of error as any other bad value.
 */
export function argsFromConfig(get: (key: string) => string | undefined): SpinCloudArgs {
    const args: Record<string, string | number | boolean | string[]> = {};
    for (const [key, setting] of Object.entries(SETTINGS)) {
        const raw = get(key);
        if (raw === undefined) {
            continue;
        }
        if (setting.type === "boolean") {
            if (raw !== "true" && raw !== "false") {
                throw new ConfigError(key, raw, "true or false");
            }
            args[key] = raw === "true";
        } else if (setting.type === "array") {
            let value: unknown;
            try {
                value = JSON.parse(raw);
            } catch {
                value = undefined;
            }
            if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
                throw new ConfigError(key, raw, "a list of strings (in YAML: a sequence, e.g. ['203.0.113.7/32'])");
            }
            args[key] = value;
        } else if (setting.type === "integer") {
            const value = Number(raw);
            if (raw.trim() === "" || !Number.isInteger(value)) {
                throw new ConfigError(key, raw, "an integer");
            }
            args[key] = value;
        } else {
            args[key] = raw;
        }
    }
    return args as SpinCloudArgs;
}
