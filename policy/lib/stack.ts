/**
 * Helpers for stack policies. A stack policy sees every resource's outputs plus the engine's
 * dependency graph: `propertyDependencies[prop]` names the resources an input came from, and is
 * known even during `pulumi preview`, when the ids themselves are still unknown.
 */
import { PolicyResource } from "@pulumi/policy";
import { UNKNOWN_STRING } from "./iam-policy";
import { peek, Props, stackOfUrn, tagsOf } from "./props";

/** The tag spin-cloud puts on nodes and load balancers to say what they are. */
export const ROLE_TAG = "spin-cloud:role";
export const SERVER_ROLE = "server";
export const LOAD_BALANCER_ROLE = "load-balancer";

export function roleOf(props: Props): string | undefined {
    return tagsOf(props)[ROLE_TAG];
}

/**
 * The resource of one of `types` that `resource.props[prop]` refers to: first through the
 * engine's property dependencies, then (for literal ids, which have no dependency) by comparing
 * the value with each candidate's `id` output.
 */
export function referencedResource(resource: PolicyResource, prop: string, candidates: readonly PolicyResource[],
    types: readonly string[]): PolicyResource | undefined {
    const viaGraph = (resource.propertyDependencies[prop] ?? []).find((r) => types.includes(r.type));
    if (viaGraph || (resource.propertyDependencies[prop] ?? []).length > 0) {
        return viaGraph;
    }
    const value = resource.props[prop];
    if (typeof value !== "string") {
        return undefined;
    }
    return candidates.find((c) => types.includes(c.type) && c.props.id === value);
}

/** Every resource of `types` that a list input (`securityGroups`, …) of `resource` refers to. */
export function referencedResources(resource: PolicyResource, prop: string, candidates: readonly PolicyResource[],
    types: readonly string[]): PolicyResource[] {
    const viaGraph = (resource.propertyDependencies[prop] ?? []).filter((r) => types.includes(r.type));
    if ((resource.propertyDependencies[prop] ?? []).length > 0) {
        return viaGraph;
    }
    const values = resource.props[prop];
    const ids = new Set(Array.isArray(values) ? values.filter((v) => typeof v === "string") : []);
    return candidates.filter((c) => types.includes(c.type) && ids.has(c.props.id as string));
}

/**
 * Every resource of `types` that input `prop` of `resource` refers to (one value or a list): the
 * engine's property dependencies of those types (known during preview, when ids are not), else the
 * input's known values compared with each candidate's `keys` outputs (`name`, `id`, `arn`, an S3
 * bucket's `bucket`, ...). Both sides are read with `peek`: an unknown value matches nothing, and
 * never stops the policy during preview.
 */
export function referencedBy(resource: PolicyResource, prop: string, candidates: readonly PolicyResource[],
    types: readonly string[], keys: readonly string[]): PolicyResource[] {
    const viaGraph = (resource.propertyDependencies[prop] ?? []).filter((d) => types.includes(d.type));
    if (viaGraph.length > 0) {
        return viaGraph;
    }
    const raw = peek(resource.props, prop);
    const values = new Set((Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === "string" && v !== UNKNOWN_STRING));
    return candidates.filter((c) => types.includes(c.type) && keys.some((k) => {
        const v = peek(c.props, k);
        return typeof v === "string" && values.has(v);
    }));
}

/** The stack's name, read from the URNs (every resource's URN carries it). */
export function stackNameOf(resources: readonly PolicyResource[]): string | undefined {
    return resources.map((r) => stackOfUrn(r.urn)).find((s) => s !== undefined);
}

/**
 * The stack's configuration as the Node.js language host passes it to a policy pack: a JSON
 * object of `<namespace>:<key>` to value in `PULUMI_CONFIG` (pulumi-language-nodejs RunPlugin
 * sets it for analyzer plugins). Empty when the CLI does not pass it.
 */
export function stackConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
    try {
        const parsed: unknown = JSON.parse(env.PULUMI_CONFIG ?? "{}");
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            return {};
        }
        return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    } catch {
        return {};
    }
}

/** A list-valued stack setting (`["a", "b"]`, as Pulumi passes structured config: JSON text). */
export function stackListSetting(stackConfig: Record<string, string>, key: string): string[] {
    try {
        const value: unknown = JSON.parse(stackConfig[key] ?? "[]");
        return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
    } catch {
        return [];
    }
}
