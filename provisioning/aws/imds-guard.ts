/**
 * The node's guard of the EC2 instance metadata service (IMDS): an nftables ruleset, built as data
 * and serialized by `renderNftRuleset`, that lets only the node's own agents reach
 * 169.254.169.254 (and IMDS's IPv6 address fd00:ec2::254), and a oneshot unit that loads it before
 * Nomad starts any task.
 *
 * Why: the instance role's credentials are one HTTP call away on IMDS, and IMDSv2's hop limit of 1
 * only stops packets that are routed once more (bridge-networked containers). Nomad's `exec` tasks
 * and docker tasks with `network_mode = "host"` share the host's network namespace, so without
 * this any task could read the client role's credentials and, with them, the cluster's SSM
 * secrets. Who may still reach IMDS:
 * - uid 0: the Nomad agent (go-discover cloud auto-join, AWS fingerprinting), the boot, deadline
 *   and renewal scripts (aws CLI), the SSM agent, cloud-init;
 * - the `consul` user: the Consul agent's `retry_join "provider=aws ..."` (go-discover) needs the
 *   role's credentials too.
 * Every task runs as someone else: exec tasks as `nobody` (Nomad refuses `root` for exec by
 * default: client/config/config.go DefaultUserDenylist / DefaultUserCheckedDrivers, checked in
 * client/allocrunner/taskrunner/validate_hook.go), Bindle's container as uid 1000.
 *
 * How (nft(8)): in the `output` hook `meta skuid` is the uid owning the sending socket, so
 * host-network tasks are matched by their uid; packets of bridge-networked containers and tasks
 * (docker0, Nomad's CNI bridge) come from another network namespace and cross the `forward` hook,
 * where every packet to IMDS is dropped. A `drop` in any base chain is final, whatever docker's own
 * iptables-nft tables accept, so the table lives on its own and docker never flushes it. The
 * `table …; delete table …; table … { … }` idiom makes loading it again replace it atomically.
 * User names in `meta skuid` are resolved when the ruleset is loaded, so it must load after the
 * consul package has created its user (install.sh runs first; the unit is enabled after it).
 */
import { NODE_LAYOUT } from "../agents/node-layout";
import type { SystemdUnit } from "./systemd-units";

/** IMDS's addresses (EC2 user guide "Access instance metadata": IPv4 and the Nitro IPv6 endpoint). */
export const IMDS_IPV4 = "169.254.169.254";
export const IMDS_IPV6 = "fd00:ec2::254";

/** Users whose sockets may reach IMDS: root and the Consul agent's user. */
export const IMDS_ALLOWED_USERS: readonly string[] = ["root", NODE_LAYOUT.consul.user];

export const IMDS_GUARD_TABLE = "spin_cloud_imds";
export const IMDS_GUARD_FILE = `${NODE_LAYOUT.root}/imds-guard.nft`;
export const IMDS_GUARD_UNIT_NAME = "spin-cloud-imds-guard.service";
/** Where Ubuntu's `nftables` package (installed on every Ubuntu 24.04 server image) puts nft. */
export const NFT_BINARY = "/usr/sbin/nft";

/** One nftables rule: its words, each a bare token of the nft grammar or a set of uids. */
export type NftRule = readonly string[];

export interface NftBaseChain {
    readonly name: string;
    readonly hook: "output" | "forward";
    readonly rules: readonly NftRule[];
}

export interface NftTable {
    readonly family: "inet";
    readonly name: string;
    readonly chains: readonly NftBaseChain[];
}

const UID = String.raw`(?:[0-9]+|"[a-z_][a-z0-9_-]*")`;
/** A bare word of the nft grammar, or an anonymous set of uids such as `{ 0, "consul" }`. */
const TOKEN = new RegExp(String.raw`^(?:[A-Za-z0-9_.:-]+|\{ ${UID}(?:, ${UID})* \})$`);
const NAME = /^[a-z][a-z0-9_]*$/;

/** `{ 0, "consul" }`: a set of uids, root as 0 (it always exists), others by name. */
function uidSet(users: readonly string[]): string {
    return `{ ${users.map((u) => (u === "root" ? "0" : `"${u}"`)).join(", ")} }`;
}

/** The guard as data: agents through, everyone else refused (output) or dropped (forward). */
export function imdsGuardTable(): NftTable {
    const allowed = uidSet(IMDS_ALLOWED_USERS);
    const perAddress = (family: "ip" | "ip6", address: string) => ({
        // A TCP reset (then an ICMP error for anything else) makes a blocked call fail at once
        // with "connection refused" instead of hanging until its timeout.
        output: [
            [family, "daddr", address, "meta", "skuid", allowed, "accept"],
            [family, "daddr", address, "meta", "l4proto", "tcp", "counter", "reject", "with", "tcp", "reset"],
            [family, "daddr", address, "counter", "reject"],
        ],
        forward: [[family, "daddr", address, "counter", "drop"]],
    });
    const v4 = perAddress("ip", IMDS_IPV4);
    const v6 = perAddress("ip6", IMDS_IPV6);
    return {
        family: "inet",
        name: IMDS_GUARD_TABLE,
        chains: [
            { name: "output", hook: "output", rules: [...v4.output, ...v6.output] },
            { name: "forward", hook: "forward", rules: [...v4.forward, ...v6.forward] },
        ],
    };
}

/**
 * An nft script (`nft -f`) that replaces the table with `table`. Throws on a token it cannot write.
 * No `#!` line: the unit runs `nft -f` on it, and only shell scripts in the user data have one.
 */
export function renderNftRuleset(table: NftTable): string {
    const check = (what: string, value: string, pattern: RegExp) => {
        if (!pattern.test(value)) {
            throw new Error(`nft ${what}: ${JSON.stringify(value)} is not allowed (must match ${pattern})`);
        }
        return value;
    };
    const ref = `${table.family} ${check("table name", table.name, NAME)}`;
    const chains = table.chains.map((chain) => [
        `    chain ${check("chain name", chain.name, NAME)} {`,
        `        type filter hook ${chain.hook} priority filter; policy accept;`,
        ...chain.rules.map((rule) => `        ${rule.map((t) => check("token", t, TOKEN)).join(" ")}`),
        "    }",
    ].join("\n"));
    return [
        "# spin-cloud: only root and the Consul agent reach the instance metadata service",
        "# (provisioning/aws/imds-guard.ts). Loaded by " + IMDS_GUARD_UNIT_NAME + ".",
        `table ${ref}`,
        `delete table ${ref}`,
        `table ${ref} {`,
        chains.join("\n\n"),
        "}",
        "",
    ].join("\n");
}

/**
 * Loads the guard before the agents (and so before any task) start; nomad.service Requires= it
 * (systemd-units.ts), so Nomad never runs a task on a node where the ruleset did not load. No
 * ExecStop: stopping the unit must not open IMDS again.
 */
export function imdsGuardUnit(): SystemdUnit {
    return {
        name: IMDS_GUARD_UNIT_NAME,
        path: `${NODE_LAYOUT.systemdDir}/${IMDS_GUARD_UNIT_NAME}`,
        doc: {
            Unit: {
                Description: "spin-cloud: only root and Consul reach the instance metadata service",
                // After nftables.service: its /etc/nftables.conf starts with `flush ruleset`.
                After: "nftables.service",
                Before: ["consul.service", "nomad.service", "docker.service"],
            },
            Service: {
                Type: "oneshot",
                RemainAfterExit: "yes",
                ExecStart: `${NFT_BINARY} -f ${IMDS_GUARD_FILE}`,
            },
            Install: { WantedBy: "multi-user.target" },
        },
    };
}
