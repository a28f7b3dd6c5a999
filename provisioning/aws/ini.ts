/**
 * A tiny serializer from data to systemd-style INI text (unit files, resolved.conf drop-ins).
 *
 * Deterministic: sections and keys come out in the order the data lists them (object insertion
 * order), a list value becomes one `Key=value` line per item (how systemd accumulates list
 * settings such as `After=`), sections are separated by one blank line and the text ends with a
 * newline. Anything that would not round-trip (a newline in a value, a malformed key or section
 * name) throws instead of being written.
 */

export type IniValue = string | readonly string[];
export type IniSection = Readonly<Record<string, IniValue>>;
/** Section name → key → value(s). */
export type IniDocument = Readonly<Record<string, IniSection>>;

const KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
const SECTION = /^[A-Za-z][A-Za-z0-9 _.-]*$/;

function checkValue(section: string, key: string, value: string): string {
    if (/[\r\n]/.test(value)) {
        throw new Error(`ini: value of [${section}] ${key} contains a line break`);
    }
    return value;
}

function renderSection(name: string, section: IniSection): string[] {
    if (!SECTION.test(name)) {
        throw new Error(`ini: invalid section name ${JSON.stringify(name)}`);
    }
    const lines = [`[${name}]`];
    for (const [key, value] of Object.entries(section)) {
        if (!KEY.test(key)) {
            throw new Error(`ini: invalid key ${JSON.stringify(key)} in [${name}]`);
        }
        const values: readonly string[] = typeof value === "string" ? [value] : value;
        for (const item of values) {
            lines.push(`${key}=${checkValue(name, key, item)}`);
        }
    }
    return lines;
}

/** Serializes `doc`; the same data always gives the same bytes. */
export function renderIni(doc: IniDocument): string {
    const blocks = Object.entries(doc).map(([name, section]) => renderSection(name, section).join("\n"));
    return blocks.length === 0 ? "" : `${blocks.join("\n\n")}\n`;
}
