/**
 * The settings that say who reaches the cloud and under which names: `appsDomain` with its
 * `hostedZoneId`, and `operatorCidrs`. Checked by `resolveSpinCloudArgs` (config.ts).
 */
import { ConfigError } from "./config-error";
import { cidrContains, parseIpv4Cidr } from "./cidr";

const DNS_NAME_PATTERN = /^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const HOSTED_ZONE_PATTERN = /^Z[A-Z0-9]{1,31}$/;
/** Operator networks wider than this are refused as "open to the internet in all but name". */
const WIDEST_OPERATOR_PREFIX = 8;

export function validateDomain(appsDomain: string, hostedZoneId: string): void {
    if (appsDomain !== "" && !DNS_NAME_PATTERN.test(appsDomain)) {
        throw new ConfigError("appsDomain", appsDomain, "a lowercase DNS name such as 'apps.example.com', or empty for no domain");
    }
    if (hostedZoneId !== "" && !HOSTED_ZONE_PATTERN.test(hostedZoneId)) {
        throw new ConfigError("hostedZoneId", hostedZoneId, "a Route 53 hosted zone id such as 'Z0123456789ABCDEFGHIJ', or empty");
    }
    if (appsDomain !== "" && hostedZoneId === "") {
        throw new ConfigError("hostedZoneId", hostedZoneId, `the Route 53 zone id of ${appsDomain}: a domain needs its zone for the certificate and app records`);
    }
    if (appsDomain === "" && hostedZoneId !== "") {
        throw new ConfigError("appsDomain", appsDomain, `the domain that hosted zone ${hostedZoneId} serves: a zone without a domain has nothing to hold`);
    }
}

/**
 * The documentation ranges of RFC 5737 (TEST-NET-1/2/3): no operator is ever in them, so an
 * operator network inside one is a placeholder nobody replaced. The shipped stack files carry
 * such placeholders on purpose; `up` with them would wait out the leader gate and then fail.
 */
export const DOCUMENTATION_CIDRS: readonly string[] = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];

export function validateOperatorCidrs(cidrs: readonly string[]): void {
    if (!Array.isArray(cidrs) || cidrs.length === 0) {
        throw new ConfigError("operatorCidrs", cidrs, "at least one IPv4 CIDR, e.g. your address as 'a.b.c.d/32': pulumi up reaches the Nomad API from there");
    }
    for (const cidr of cidrs) {
        const parsed = typeof cidr === "string" ? parseIpv4Cidr(cidr) : undefined;
        if (!parsed) {
            throw new ConfigError("operatorCidrs", cidr, "IPv4 networks in CIDR form with zero host bits, e.g. 'a.b.c.d/32'");
        }
        if (parsed.prefix < WIDEST_OPERATOR_PREFIX) {
            throw new ConfigError("operatorCidrs", cidr, `networks of /${WIDEST_OPERATOR_PREFIX} or narrower: operator endpoints are never open to the internet`);
        }
        const documentation = DOCUMENTATION_CIDRS.find((range) => cidrContains(parseIpv4Cidr(range)!, parsed));
        if (documentation) {
            throw new ConfigError("operatorCidrs", cidr, `your own network, not the documentation range ${documentation} (RFC 5737) ` +
                "the shipped stack files hold as a placeholder: set yours with " +
                "`pulumi config set --path 'spin-cloud:operatorCidrs[0]' <your-ip>/32` (and your CI runner's)");
        }
    }
}

