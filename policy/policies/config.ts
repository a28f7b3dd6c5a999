/**
 * The pack's tunables, their defaults and their JSON schemas. Pulumi configures policy packs per
 * policy (`--policy-pack-config file.json` holds `{ "<policy-name>": { "<key>": value } }`), so
 * each tunable belongs to the one policy that reads it. Defaults are applied here as well as
 * declared in the schema, so a policy behaves the same whether or not the CLI filled them in.
 */
import { PolicyConfigSchema } from "@pulumi/policy";
import { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { SPIN_APP_LIMITS } from "../../provisioning/jobs/spin-app-job-input";

export const DEFAULTS = {
    /**
     * DNS domains app routes may use besides the stack's own `spin-cloud:appsDomain`; a host must
     * equal one or be a subdomain of one. Empty and no appsDomain: apps are path-routed, not checked.
     */
    allowedDomains: [] as string[],
    /** EC2 instance families (the part before the dot) nodes may use: Graviton and current Intel. */
    allowedInstanceFamilies: ["t4g", "m7g", "m8g", "c7g", "c8g", "r7g", "r8g", "t3", "t3a", "m7i", "c7i", "r7i"],
    /** Largest `MemoryMB` (and `MemoryMaxMB`) a Spin app task may ask for: SpinApp's own limit. */
    maxAppMemoryMb: SPIN_APP_LIMITS.memoryMb.max as number,
    /** Fewest instances of every Spin app task group in a production stack. */
    minAppInstances: 2,
    /** Stacks that are production. */
    productionStacks: ["prod"],
    /** Tags every taggable AWS resource carries (the SpinCloud component sets both). */
    requiredTags: ["spin-cloud:cluster", "managed-by"],
    /** Stacks exempt from the server-quorum policy besides those whose config says `spin-cloud:target: local`. */
    localStacks: [] as string[],
    /** Operator networks that may reach cluster ports, besides the stack's `spin-cloud:operatorCidrs`. */
    operatorCidrs: [] as string[],
};

export type GuardDefaults = typeof DEFAULTS;
export type TunableKey = keyof GuardDefaults;

const stringList = (description: string, defaultValue: string[]): PolicyConfigJSONSchema => ({
    type: "array", items: { type: "string" }, default: defaultValue, description,
});

const SCHEMAS: { readonly [K in TunableKey]: PolicyConfigJSONSchema } = {
    allowedDomains: stringList("Domains app hosts may use (a host equals one or is a subdomain of one).", DEFAULTS.allowedDomains),
    allowedInstanceFamilies: stringList("EC2 instance families nodes may use, e.g. t4g, m7g.", DEFAULTS.allowedInstanceFamilies),
    maxAppMemoryMb: { type: "integer", minimum: 1, default: DEFAULTS.maxAppMemoryMb, description: "Largest MemoryMB a Spin app task may request." },
    minAppInstances: { type: "integer", minimum: 1, default: DEFAULTS.minAppInstances, description: "Fewest instances per Spin app group in production." },
    productionStacks: stringList("Names of the production stacks.", DEFAULTS.productionStacks),
    requiredTags: stringList("Tag keys every taggable AWS resource must carry.", DEFAULTS.requiredTags),
    localStacks: stringList("Stacks that are local targets, exempt from the server quorum policy.", DEFAULTS.localStacks),
    operatorCidrs: stringList("Operator networks allowed to reach cluster ports, besides the stack's spin-cloud:operatorCidrs.", DEFAULTS.operatorCidrs),
};

/** The `configSchema` of a policy that reads `keys`. */
export function configSchema(...keys: TunableKey[]): PolicyConfigSchema {
    return { properties: Object.fromEntries(keys.map((k) => [k, SCHEMAS[k]])) };
}

/** The policy's config (`args.getConfig()`) over the defaults of `keys`. */
export function tunables<K extends TunableKey>(getConfig: () => object, ...keys: K[]): Pick<GuardDefaults, K> {
    const given = getConfig() as Partial<GuardDefaults>;
    return Object.fromEntries(keys.map((k) => [k, given[k] ?? DEFAULTS[k]])) as Pick<GuardDefaults, K>;
}
