/**
 * Walks plain data (resource inputs) and yields every string with its path. Values for which
 * `skip` is true (e.g. inputs wrapped as Pulumi secrets) are not entered.
 */
export function* strings(value: unknown, skip: (v: unknown) => boolean = () => false, path = ""): Generator<[string, string]> {
    if (skip(value)) {
        return;
    }
    if (typeof value === "string") {
        yield [path, value];
    } else if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) {
            yield* strings(v, skip, `${path}[${i}]`);
        }
    } else if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) {
            yield* strings(v, skip, path ? `${path}.${k}` : k);
        }
    }
}
