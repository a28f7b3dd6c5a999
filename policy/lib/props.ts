/**
 * Small readers over the property bags `@pulumi/policy` hands to policies. Those bags are plain
 * JSON (secrets already unwrapped) behind a proxy that throws `UnknownValueError` when a policy
 * reads a value that is unknown during `pulumi preview`; the engine then reports the policy as
 * "can't run during preview" and runs it again with known values during `pulumi up`.
 */

export type Props = Record<string, unknown>;

/** `value` as a plain object, or undefined. */
export function asRecord(value: unknown): Props | undefined {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Props : undefined;
}

/** `value` as an array (empty when it is not one). */
export function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

/** `value` as a string, or undefined. */
export function asString(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** `value` as a finite number (numeric strings too: some providers type ports as strings). */
export function asNumber(value: unknown): number | undefined {
    const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

/**
 * Reads `key` of `props` without the unknown-value check of the policy proxy. During preview a
 * value computed from another resource's output (a KMS key ARN, say) is an opaque non-empty
 * placeholder. Use this only where "set to something" is all a policy needs to know.
 */
export function peek(props: Props, key: string): unknown {
    return Object.getOwnPropertyDescriptor(props, key)?.value;
}

/** True when `key` holds a non-empty string, known or not yet known. */
export function isSetString(props: Props, key: string): boolean {
    const value = peek(props, key);
    return typeof value === "string" && value.trim() !== "";
}

/** Booleans as the AWS provider spells them: `true` or `"true"` (launch template EBS flags are strings). */
export function isTrue(value: unknown): boolean {
    return value === true || value === "true";
}

/**
 * Tags of a resource as a map: `tags` is a map on most AWS resources and a list of
 * `{ key, value, propagateAtLaunch }` on an Auto Scaling Group.
 */
export function tagsOf(props: Props): Record<string, string> {
    const tags = props.tags;
    if (Array.isArray(tags)) {
        const entries = tags.map(asRecord)
            .filter((t): t is Props => t !== undefined && typeof t.key === "string")
            .map((t) => [t.key as string, String(t.value ?? "")]);
        return Object.fromEntries(entries);
    }
    const map = asRecord(tags) ?? {};
    return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v ?? "")]));
}

/** The stack name in a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOfUrn(urn: string): string | undefined {
    const match = /^urn:pulumi:([^:]+)::/.exec(urn);
    return match ? match[1] : undefined;
}

/** `resource 'name' (type)`, the way every violation message names the resource it is about. */
export function describeResource(name: string, type: string): string {
    return `${type} '${name}'`;
}
