/** The one text form of every JSON file spin-cloud writes: two-space indent, trailing newline. */
export function jsonFile(value: unknown): string {
    return JSON.stringify(value, null, 2) + "\n";
}
