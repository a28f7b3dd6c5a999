/**
 * The node env file (NODE_LAYOUT.envFile): the node's non-secret parameters as `KEY='value'`
 * lines, which install.sh and bootstrap.sh source (`set -a` exports them, so the Consul and Nomad
 * CLIs also pick up their `CONSUL_HTTP_ADDR` / `NOMAD_ADDR` / `NOMAD_CACERT` variables).
 *
 * Deterministic: a fixed key order, values single-quoted (a `'` inside becomes `'\''`), so any
 * POSIX shell reads back exactly the value written. Never holds a secret: only SSM paths and names.
 */
import { consulAgentConfig } from "../agents/consul-config";
import { CONSUL_ACL_POLICIES } from "../agents/consul-acl-policies";
import { BINDLE_CLIENT_REQUIREMENTS } from "../jobs/bindle-job";
import { NODE_LAYOUT } from "../agents/node-layout";
import { nomadAgentConfig } from "../agents/nomad-config";
import { SECRET_PARAMETERS, secretPathsFor } from "../agents/secrets";
import { assertNever, ClientNode, NodeProvisioning } from "../types";
import { CONSUL, debianArchitecture, HASHICORP_APT, NOMAD, SPIN, spinArtifact } from "../versions";
import { shellQuote } from "../shell-quote";

export type EnvEntry = readonly [key: string, value: string];

/** Nomad's default HTTP port (Nomad agent configuration `ports.http`, default 4646). */
export const NOMAD_HTTP_PORT = 4646;

const KEY = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Ubuntu's NFS client (`mount.nfs4`), the package AWS's EFS guide installs on Ubuntu; in noble:
 * manpages.ubuntu.com/manpages/noble/man5/nfs.5.html is "Provided by: nfs-common_2.6.4-3ubuntu5.1".
 */
export const NFS_CLIENT_APT_PACKAGE = "nfs-common";

/**
 * fstab options for EFS with the plain NFS client, exactly as AWS's EFS user guide gives them
 * ("Enabling automatic mounting on EC2 Linux ... using NFS", nfs-automount-efs.html; the same
 * values as "Mount settings used by EFS mount helper"): NFSv4.1, 1 MiB reads and writes, `hard`,
 * 60 s timeout, 2 retransmissions, a new source port on reconnect; `_netdev` mounts it after the
 * network is up at boot.
 */
export const EFS_NFS_MOUNT_OPTIONS = "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev";

/** The file system table bootstrap.sh adds the shared volume's line to. */
export const FSTAB_FILE = "/etc/fstab";

/** How long bootstrap.sh keeps trying to mount the shared volume (new mount targets take a while). */
export const SHARED_VOLUME_MOUNT_TIMEOUT_SECONDS = 300;

/** A client's shared volume with its mount point resolved from `hostVolumes`. */
export interface ResolvedSharedVolume {
    readonly hostVolume: string;
    readonly path: string;
    readonly addressParameter: string;
    readonly uid: number;
    readonly gid: number;
    readonly mode: string;
}

/**
 * The shared volume of `node`, checked: it names one of the node's host volumes, whose path is an
 * absolute path fstab can hold as is; the parameter is one SSM name segment; owner and mode are
 * numeric. Undefined when the node has none.
 */
export function resolveSharedVolume(node: ClientNode): ResolvedSharedVolume | undefined {
    const shared = node.sharedVolume;
    if (shared === undefined) {
        return undefined;
    }
    const volume = node.hostVolumes.find((v) => v.name === shared.hostVolume);
    const fail = (why: string): never => {
        throw new Error(`shared volume ${JSON.stringify(shared.hostVolume)}: ${why}`);
    };
    if (volume === undefined) {
        return fail("is not one of the client's host volumes");
    }
    if (!/^(\/[A-Za-z0-9._-]+)+$/.test(volume.path)) {
        fail(`path ${JSON.stringify(volume.path)} is not an absolute path of [A-Za-z0-9._-] segments`);
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(shared.addressParameter)) {
        fail(`address parameter ${JSON.stringify(shared.addressParameter)} is not one SSM name segment`);
    }
    for (const [what, id] of [["uid", shared.uid], ["gid", shared.gid]] as const) {
        if (!Number.isInteger(id) || id < 0) {
            fail(`${what} must be a non-negative integer, got ${id}`);
        }
    }
    if (!/^[0-7]{3,4}$/.test(shared.mode)) {
        fail(`mode must be octal like "0750", got ${JSON.stringify(shared.mode)}`);
    }
    return { ...shared, path: volume.path };
}

/**
 * Client-only entries: the system user install.sh creates for the Bindle task (fixed ids, so the
 * shared store has one owner on every client), the NFS client package, and the shared volume.
 */
function clientEntries(node: ClientNode): EnvEntry[] {
    const shared = resolveSharedVolume(node);
    const user = BINDLE_CLIENT_REQUIREMENTS.systemUser;
    const entries: EnvEntry[] = [
        ["NODE_APT_PACKAGES", shared ? NFS_CLIENT_APT_PACKAGE : ""],
        ["NODE_SYSTEM_USER", user.name],
        ["NODE_SYSTEM_UID", String(user.uid)],
        ["NODE_SYSTEM_GID", String(user.gid)],
    ];
    if (shared) {
        entries.push(
            ["SHARED_VOLUME_PATH", shared.path],
            ["SHARED_VOLUME_ADDRESS_PARAMETER", shared.addressParameter],
            ["SHARED_VOLUME_MOUNT_OPTIONS", EFS_NFS_MOUNT_OPTIONS],
            ["SHARED_VOLUME_MOUNT_TIMEOUT", String(SHARED_VOLUME_MOUNT_TIMEOUT_SECONDS)],
            ["SHARED_VOLUME_UID", String(shared.uid)],
            ["SHARED_VOLUME_GID", String(shared.gid)],
            ["SHARED_VOLUME_MODE", shared.mode],
            ["FSTAB_FILE", FSTAB_FILE],
        );
    }
    return entries;
}


function roleEntries(node: NodeProvisioning): EnvEntry[] {
    switch (node.role) {
        case "server": {
            const entries: EnvEntry[] = [["CONSUL_ACL_POLICY_COUNT", String(CONSUL_ACL_POLICIES.length)]];
            CONSUL_ACL_POLICIES.forEach((policy, i) => {
                entries.push(
                    [`CONSUL_ACL_POLICY_${i}_NAME`, policy.name],
                    [`CONSUL_ACL_POLICY_${i}_DESCRIPTION`, policy.description],
                    [`CONSUL_ACL_POLICY_${i}_TOKEN`, policy.token],
                );
            });
            return entries;
        }
        case "client": {
            const spin = spinArtifact(node.architecture);
            return [
                ["SPIN_VERSION", SPIN.version],
                ["SPIN_URL", spin.url],
                ["SPIN_SHA256", spin.sha256],
                ["SPIN_BINARY", NODE_LAYOUT.spin.binary],
                ...clientEntries(node),
            ];
        }
        default:
            return assertNever(node, "node role");
    }
}

/**
 * How the local CLIs reach the local agents, derived from the rendered agent configs: Consul's
 * plain HTTP listener on its `client_addr` (loopback), Nomad's HTTP API over TLS on loopback
 * (its certificates carry a 127.0.0.1 SAN).
 */
function cliEntries(node: NodeProvisioning): EnvEntry[] {
    const consul = consulAgentConfig(node);
    const nomad = nomadAgentConfig(node);
    const nomadScheme = nomad.tls.http ? "https" : "http";
    return [
        ["CONSUL_HTTP_ADDR", `http://${consul.client_addr}:${consul.ports.http}`],
        ["NOMAD_ADDR", `${nomadScheme}://127.0.0.1:${NOMAD_HTTP_PORT}`],
        ["NOMAD_CACERT", nomad.tls.ca_file],
    ];
}

/** Every key and value of the env file, in file order. */
export function nodeEnvEntries(node: NodeProvisioning): readonly EnvEntry[] {
    const { cluster } = node;
    const [commonPath, rolePath] = secretPathsFor(cluster.ssmPrefix, node.role);
    const secretNames = SECRET_PARAMETERS.filter((p) => p.scope === "common" || p.scope === node.role).map((p) => p.name);
    return [
        ["SPIN_CLOUD_CLUSTER", cluster.clusterName],
        ["SPIN_CLOUD_ROLE", node.role],
        ["NODE_ARCH", node.architecture],
        ["DEB_ARCH", debianArchitecture(node.architecture)],
        ["AWS_REGION", cluster.awsRegion],
        ["SSM_PREFIX", cluster.ssmPrefix],
        ["SSM_PATH_COMMON", commonPath],
        ["SSM_PATH_ROLE", rolePath],
        ["SSM_SECRET_NAMES", secretNames.join(" ")],
        ["CONSUL_VERSION", CONSUL.version],
        ["CONSUL_PACKAGE_VERSION", CONSUL.packageVersion],
        ["NOMAD_VERSION", NOMAD.version],
        ["NOMAD_PACKAGE_VERSION", NOMAD.packageVersion],
        ["HASHICORP_APT_URL", HASHICORP_APT.url],
        ["HASHICORP_APT_KEY_URL", HASHICORP_APT.keyUrl],
        ["HASHICORP_APT_KEY_FINGERPRINT", HASHICORP_APT.keyFingerprint],
        ["HASHICORP_APT_KEYRING", HASHICORP_APT.keyring],
        ["HASHICORP_APT_SOURCES_LIST", HASHICORP_APT.sourcesList],
        ["SPIN_CLOUD_ROOT", NODE_LAYOUT.root],
        ["SCRIPT_DIR", NODE_LAYOUT.scriptDir],
        ["CONSUL_CONFIG_DIR", NODE_LAYOUT.consul.configDir],
        ["CONSUL_CONFIG_FILE", NODE_LAYOUT.consul.configFile],
        ["CONSUL_SECRETS_FILE", NODE_LAYOUT.consul.secretsFile],
        ["CONSUL_DATA_DIR", NODE_LAYOUT.consul.dataDir],
        ["CONSUL_POLICY_DIR", NODE_LAYOUT.consul.policyDir],
        ["CONSUL_USER", NODE_LAYOUT.consul.user],
        ["NOMAD_CONFIG_DIR", NODE_LAYOUT.nomad.configDir],
        ["NOMAD_CONFIG_FILE", NODE_LAYOUT.nomad.configFile],
        ["NOMAD_SECRETS_FILE", NODE_LAYOUT.nomad.secretsFile],
        ["NOMAD_DATA_DIR", NODE_LAYOUT.nomad.dataDir],
        ["NOMAD_USER", NODE_LAYOUT.nomad.user],
        ["TLS_DIR", NODE_LAYOUT.tls.dir],
        ["TLS_CA_FILE", NODE_LAYOUT.tls.caFile],
        ["TLS_CERT_FILE", NODE_LAYOUT.tls.certFile],
        ["TLS_KEY_FILE", NODE_LAYOUT.tls.keyFile],
        ["RESOLVED_DROP_IN", NODE_LAYOUT.resolvedDropIn],
        ...cliEntries(node),
        ...roleEntries(node),
    ];
}

/** The content of NODE_LAYOUT.envFile. */
export function renderNodeEnv(node: NodeProvisioning): string {
    const seen = new Set<string>();
    const lines = nodeEnvEntries(node).map(([key, value]) => {
        if (!KEY.test(key) || seen.has(key)) {
            throw new Error(`node env: invalid or duplicate key ${JSON.stringify(key)}`);
        }
        if (/[\0\r\n]/.test(value)) {
            throw new Error(`node env: value of ${key} contains a line break or NUL`);
        }
        seen.add(key);
        return `${key}=${shellQuote(value)}`;
    });
    return [
        "# spin-cloud node parameters, generated by provisioning/aws/node-env.ts. No secrets here.",
        "# shellcheck disable=SC2034 # every variable is for the scripts that source this file",
        ...lines,
        "",
    ].join("\n");
}
