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

/** Every object key of a parsed JSON document, with its dotted path (`a.b[0].c`). */
export function keyPaths(value: unknown, prefix = ""): string[] {
    if (Array.isArray(value)) {
        return value.flatMap((item, i) => keyPaths(item, `${prefix}[${i}]`));
    }
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([key, child]) => {
            const path = prefix ? `${prefix}.${key}` : key;
            return [path, ...keyPaths(child, path)];
        });
    }
    return [];
}

/** The key a dotted path ends in, without array indices. */
export function lastSegment(path: string): string {
    return path.replace(/\[\d+\]/g, "").split(".").pop() ?? "";
}
