/**
 * The labels of Spin key-value stores and SQLite databases (`key_value_stores = [...]`,
 * `sqlite_databases = [...]` in a component of spin.toml), checked exactly as Spin 3.4 checks
 * them when it reads the manifest: spinframework/spin v3.4.0 crates/manifest/src/schema/v2.rs
 * (`mod kebab_or_snake_case`: a label is valid when it is a `KebabId` or a `SnakeId`) and
 * crates/serde/src/id.rs (`Id::<DELIM, LOWER>::try_from`; crates/serde/src/lib.rs: `KebabId =
 * Id<'-', false>`, `SnakeId = Id<'_', false>`). Pure.
 */

/** Why `id` is not an `Id<delim, false>`, in Spin's words; undefined when it is one. */
export function spinIdError(id: string, delim: "-" | "_"): string | undefined {
    if (id.length === 0) return "empty";
    // id.rs special-cases the other separator before splitting.
    const wrong = delim === "-" ? "_" : "-";
    if (id.includes(wrong)) return `words must be separated with '${delim}', not '${wrong}'`;
    for (const word of id.split(delim)) {
        if (word.length === 0) return `'${delim}'-separated words must not be empty`;
        const first = word[0];
        if (!/^[A-Za-z]$/.test(first)) return `'${delim}'-separated words must start with an ASCII letter; got '${first}'`;
        const upper = /^[A-Z]$/.test(first);
        for (const ch of word.slice(1)) {
            if (/^[0-9]$/.test(ch)) continue;
            if (!/^[A-Za-z]$/.test(ch)) return `'${delim}'-separated words may only contain alphanumeric ASCII; got '${ch}'`;
            if (/^[A-Z]$/.test(ch) !== upper) return `'${delim}'-separated words must be all lowercase or all UPPERCASE; got "${word}"`;
        }
    }
    return undefined;
}

/** Undefined when Spin accepts `label` (kebab-case or snake_case); otherwise why not. */
export function storeLabelError(label: unknown): string | undefined {
    if (typeof label !== "string") return "a label must be a string";
    const kebab = spinIdError(label, "-");
    const snake = spinIdError(label, "_");
    if (kebab === undefined || snake === undefined) return undefined;
    return `expected kebab-case or snake_case (as kebab-case: ${kebab}; as snake_case: ${snake})`;
}

export const STORE_LABEL_RULE =
    "labels are kebab-case or snake_case: words of ASCII letters and digits, each starting with a letter, all lowercase or all UPPERCASE, joined by '-' or by '_' (not both)";

/** `label`, or an error naming where it was found, the value and the rule. */
export function checkedStoreLabel(label: unknown, where: string): string {
    const error = storeLabelError(label);
    if (error !== undefined) throw new Error(`${where}: store label ${JSON.stringify(label)} is refused by Spin: ${error}; ${STORE_LABEL_RULE}`);
    return label as string;
}
