/** Classifying the source CIDRs of ingress rules. Pure functions. */

export type CidrClass = "internet" | "public" | "private" | "invalid";

interface ParsedCidr {
    readonly family: 4 | 6;
    /** The address as bytes (4 or 16). */
    readonly bytes: number[];
    readonly prefix: number;
}

function parseIpv4(text: string): number[] | undefined {
    const parts = text.split(".");
    if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
        return undefined;
    }
    return parts.map(Number);
}

function parseIpv6(text: string): number[] | undefined {
    const halves = text.split("::");
    if (halves.length > 2) {
        return undefined;
    }
    const groups = (half: string) => (half === "" ? [] : half.split(":"));
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - tail.length;
    if ((halves.length === 1 && missing !== 0) || missing < 0) {
        return undefined;
    }
    const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
    if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
        return undefined;
    }
    return all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

export function parseCidr(text: string): ParsedCidr | undefined {
    const [address, prefixText, ...rest] = text.trim().split("/");
    if (rest.length > 0 || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) {
        return undefined;
    }
    const prefix = Number(prefixText);
    const v4 = parseIpv4(address);
    if (v4 && prefix <= 32) {
        return { family: 4, bytes: v4, prefix };
    }
    const v6 = address.includes(":") ? parseIpv6(address) : undefined;
    return v6 && prefix <= 128 ? { family: 6, bytes: v6, prefix } : undefined;
}

/** True when the first `bits` bits of `bytes` equal those of `network`. */
function startsWith(bytes: number[], network: number[], bits: number): boolean {
    for (let bit = 0; bit < bits; bit++) {
        const mask = 0x80 >> (bit % 8);
        if ((bytes[Math.floor(bit / 8)] & mask) !== (network[Math.floor(bit / 8)] & mask)) {
            return false;
        }
    }
    return true;
}

/** RFC 1918, RFC 6598 (shared address space, usable as VPC CIDR) and IPv6 unique local fc00::/7. */
const PRIVATE_NETWORKS: readonly { family: 4 | 6; bytes: number[]; prefix: number }[] = [
    { family: 4, bytes: [10, 0, 0, 0], prefix: 8 },
    { family: 4, bytes: [172, 16, 0, 0], prefix: 12 },
    { family: 4, bytes: [192, 168, 0, 0], prefix: 16 },
    { family: 4, bytes: [100, 64, 0, 0], prefix: 10 },
    { family: 6, bytes: [0xfc, ...Array<number>(15).fill(0)], prefix: 7 },
];

/**
 * `internet`: every address (a /0, i.e. 0.0.0.0/0 or ::/0); `private`: inside a private range;
 * `public`: anything else that parses; `invalid`: not a CIDR.
 */
export function classifyCidr(text: string): CidrClass {
    const cidr = parseCidr(text);
    if (!cidr) {
        return "invalid";
    }
    if (cidr.prefix === 0) {
        return "internet";
    }
    const inside = PRIVATE_NETWORKS.some((n) =>
        n.family === cidr.family && cidr.prefix >= n.prefix && startsWith(cidr.bytes, n.bytes, n.prefix));
    return inside ? "private" : "public";
}

function toBigInt(bytes: number[]): bigint {
    return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** Distinct addresses covered by `cidrs` of one family (overlaps counted once). */
export function addressCount(cidrs: readonly string[]): bigint {
    const ranges = cidrs.map(parseCidr).filter((c): c is ParsedCidr => c !== undefined).map((c) => {
        const bits = BigInt(c.bytes.length * 8);
        const size = 1n << (bits - BigInt(c.prefix));
        const start = (toBigInt(c.bytes) / size) * size;
        return [start, start + size] as const;
    }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let total = 0n;
    let end = -1n;
    for (const [from, to] of ranges) {
        const start = from > end ? from : end;
        if (to > start) {
            total += to - start;
            end = to;
        }
    }
    return total;
}
