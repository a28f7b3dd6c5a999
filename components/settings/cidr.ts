/** IPv4 CIDR arithmetic for carving the VPC into subnets. Pure functions. */

export interface Ipv4Cidr {
    /** Network address as an unsigned 32-bit integer. */
    readonly base: number;
    readonly prefix: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `a.b.c.d/n`; returns undefined for anything that is not a canonical IPv4 network. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
    const match = CIDR_PATTERN.exec(text.trim());
    if (!match) {
        return undefined;
    }
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix > 32) {
        return undefined;
    }
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    // Host bits must be zero: "10.0.0.1/16" is a typo for a network, not a network.
    if (address % size !== 0) {
        return undefined;
    }
    return { base: address, prefix };
}

export function formatIpv4Cidr(cidr: Ipv4Cidr): string {
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(cidr.base / 2 ** shift) % 256);
    return `${octets.join(".")}/${cidr.prefix}`;
}

/** The `index`-th subnet of `newPrefix` inside `parent`. */
export function subnetAt(parent: Ipv4Cidr, newPrefix: number, index: number): Ipv4Cidr {
    const count = 2 ** (newPrefix - parent.prefix);
    if (newPrefix < parent.prefix || index < 0 || index >= count) {
        throw new RangeError(`subnet ${index} of /${newPrefix} does not fit in /${parent.prefix}`);
    }
    return { base: parent.base + index * 2 ** (32 - newPrefix), prefix: newPrefix };
}

/** True when every address of `inner` lies in `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    return inner.prefix >= outer.prefix &&
        inner.base >= outer.base &&
        inner.base + 2 ** (32 - inner.prefix) <= outer.base + 2 ** (32 - outer.prefix);
}

/** Subnet plan: the VPC is cut into 16 equal blocks; private subnets take blocks 0..n-1, public 8..8+n-1. */
export const SUBNET_BLOCK_BITS = 4;
export const MAX_AVAILABILITY_ZONES = 6;

export interface SubnetPlan {
    readonly privateSubnets: string[];
    readonly publicSubnets: string[];
}

export function planSubnets(vpcCidr: string, zoneCount: number): SubnetPlan {
    const vpc = parseIpv4Cidr(vpcCidr);
    if (!vpc) {
        throw new RangeError(`not an IPv4 network: ${vpcCidr}`);
    }
    const prefix = vpc.prefix + SUBNET_BLOCK_BITS;
    const zones = Array.from({ length: zoneCount }, (_, i) => i);
    return {
        privateSubnets: zones.map((i) => formatIpv4Cidr(subnetAt(vpc, prefix, i))),
        publicSubnets: zones.map((i) => formatIpv4Cidr(subnetAt(vpc, prefix, 8 + i))),
    };
}
