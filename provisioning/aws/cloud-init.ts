/**
 * EC2 user data of a node: a `#cloud-config` document (cloud-init `write_files` + `runcmd`)
 * built as data and serialized with the `yaml` package. It writes every non-secret file the node
 * needs and runs install.sh then bootstrap.sh, which fetch the secrets from SSM at boot: no secret
 * is ever part of the user data.
 *
 * EC2 accepts at most 16384 bytes of raw user data; spin-cloud keeps every node within a budget
 * of 12 KiB. The plain document is well over that (the scripts alone are ~17 KB), so what EC2
 * gets is the whole document gzipped (`renderUserDataGzip`): cloud-init uncompresses gzip user
 * data before anything else (cloud-init docs, "User data formats": gzip compressed content;
 * cloudinit/user_data.py `convert_string` → `util.decomp_gzip`), and gzipping the whole document
 * at once saves the base64 overhead per-file `gz+b64` entries have. Growth path, when even that
 * is over the budget: move the largest files (the scripts) out of the user data into SSM
 * parameters (or an S3 object) fetched at boot with the node's role, as bootstrap.sh already does
 * for the secrets; README "Operating notes" says the same. */
import { readFileSync } from "fs";
import * as path from "path";
import { gzipSync } from "zlib";
import { stringify } from "yaml";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../agents/consul-acl-policies";
import { renderConsulAgentConfig } from "../agents/consul-config";
import { NODE_LAYOUT } from "../agents/node-layout";
import { renderIni } from "./ini";
import { renderNodeEnv, resolveSharedVolume } from "./node-env";
import { shellQuote } from "../shell-quote";
import { renderNomadAgentConfig } from "../agents/nomad-config";
import { renderResolvedDropIn } from "./resolved";
import {
    BOOT_DEADLINE_TIMER_NAME, BOOTSTRAP_UNIT_NAME, bootDeadlineUnits, bootstrapUnit, NOMAD_UNIT_NAME, renderUnit, systemdUnits,
    TLS_RENEW_TIMER_NAME, tlsRenewUnits,
} from "./systemd-units";
import { IMDS_GUARD_FILE, IMDS_GUARD_UNIT_NAME, imdsGuardTable, imdsGuardUnit, renderNftRuleset } from "./imds-guard";
import { assertNever, NodeProvisioning } from "../types";

/** EC2's limit on raw (not yet base64-encoded) user data. */
export const USER_DATA_LIMIT_BYTES = 16384;

/** What spin-cloud allows itself of that: 12 KiB of raw (decoded) user data per node. */
export const USER_DATA_BUDGET_BYTES = 12 * 1024;

const SCRIPT_SOURCE_DIR = path.join(__dirname, "scripts");
const INSTALL_SCRIPT = readFileSync(path.join(SCRIPT_SOURCE_DIR, "install.sh"), "utf8");
const BOOTSTRAP_SCRIPT = readFileSync(path.join(SCRIPT_SOURCE_DIR, "bootstrap.sh"), "utf8");
const BOOT_DEADLINE_SCRIPT = readFileSync(path.join(SCRIPT_SOURCE_DIR, "boot-deadline.sh"), "utf8");
const RENEW_TLS_SCRIPT = readFileSync(path.join(SCRIPT_SOURCE_DIR, "renew-tls.sh"), "utf8");

/** Where the scripts live on the node. */
export const INSTALL_SCRIPT_PATH = `${NODE_LAYOUT.scriptDir}/install.sh`;
export const BOOTSTRAP_SCRIPT_PATH = `${NODE_LAYOUT.scriptDir}/bootstrap.sh`;
export const BOOT_DEADLINE_SCRIPT_PATH = `${NODE_LAYOUT.scriptDir}/boot-deadline.sh`;
export const RENEW_TLS_SCRIPT_PATH = `${NODE_LAYOUT.scriptDir}/renew-tls.sh`;

/** Drop-in of nomad.service on clients with a shared volume (systemd.unit(5): `<unit>.d/*.conf`). */
export const NOMAD_SHARED_VOLUME_DROP_IN = `${NODE_LAYOUT.systemdDir}/${NOMAD_UNIT_NAME}.d/shared-volume.conf`;

/** A file to write on the node, before encoding. */
export interface NodeFile {
    readonly path: string;
    readonly content: string;
    /** Octal mode as cloud-init wants it: a string such as "0644". */
    readonly permissions: "0644" | "0755";
}

/** One `write_files` entry as it appears in the cloud-config. */
export interface WriteFilesEntry {
    readonly path: string;
    readonly permissions: string;
    readonly encoding?: "gz+b64";
    readonly content: string;
}

export interface CloudConfig {
    readonly write_files: readonly WriteFilesEntry[];
    readonly runcmd: readonly string[];
}

function roleFiles(node: NodeProvisioning): NodeFile[] {
    switch (node.role) {
        case "server":
            return CONSUL_ACL_POLICIES.map((policy) => ({
                path: `${NODE_LAYOUT.consul.policyDir}/${policy.name}.json`,
                content: renderConsulPolicyRules(policy),
                permissions: "0644" as const,
            }));
        case "client": {
            // After a reboot Nomad must not start before the shared volume is mounted again (it
            // would serve the empty mount point): RequiresMountsFor= adds Requires= and After= on
            // the mount unit systemd makes from the fstab line (systemd.unit(5)).
            const shared = resolveSharedVolume(node);
            return shared === undefined ? [] : [{
                path: NOMAD_SHARED_VOLUME_DROP_IN,
                content: renderIni({ Unit: { RequiresMountsFor: shared.path } }),
                permissions: "0644" as const,
            }];
        }
        default:
            return assertNever(node, "node role");
    }
}

/** Every file the user data writes, in write order. None holds a secret. */
export function nodeFiles(node: NodeProvisioning): readonly NodeFile[] {
    return [
        { path: NODE_LAYOUT.envFile, content: renderNodeEnv(node), permissions: "0644" },
        { path: INSTALL_SCRIPT_PATH, content: INSTALL_SCRIPT, permissions: "0755" },
        { path: BOOTSTRAP_SCRIPT_PATH, content: BOOTSTRAP_SCRIPT, permissions: "0755" },
        { path: BOOT_DEADLINE_SCRIPT_PATH, content: BOOT_DEADLINE_SCRIPT, permissions: "0755" },
        { path: RENEW_TLS_SCRIPT_PATH, content: RENEW_TLS_SCRIPT, permissions: "0755" },
        { path: IMDS_GUARD_FILE, content: renderNftRuleset(imdsGuardTable()), permissions: "0644" },
        { path: NODE_LAYOUT.consul.configFile, content: renderConsulAgentConfig(node), permissions: "0644" },
        { path: NODE_LAYOUT.nomad.configFile, content: renderNomadAgentConfig(node), permissions: "0644" },
        ...roleFiles(node),
        ...[
            ...systemdUnits(), imdsGuardUnit(), bootstrapUnit(BOOTSTRAP_SCRIPT_PATH, NODE_LAYOUT.envFile),
            ...bootDeadlineUnits(BOOT_DEADLINE_SCRIPT_PATH, NODE_LAYOUT.envFile), ...tlsRenewUnits(RENEW_TLS_SCRIPT_PATH, NODE_LAYOUT.envFile),
        ]
            .map((unit) => ({ path: unit.path, content: renderUnit(unit), permissions: "0644" as const })),
        { path: NODE_LAYOUT.resolvedDropIn, content: renderResolvedDropIn(), permissions: "0644" },
    ];
}

/**
 * gzip then base64, byte-identical on every platform: zlib writes the compressing OS into the
 * header's OS byte (RFC 1952 §2.3.1), so it is fixed to 3 (Unix); MTIME is already 0.
 */
export function gzipBase64(content: string): string {
    const gz = gzipSync(Buffer.from(content, "utf8"), { level: 9 });
    gz[9] = 3;
    return gz.toString("base64");
}

function writeFilesEntry(file: NodeFile, compress: boolean): WriteFilesEntry {
    return compress
        ? { path: file.path, permissions: file.permissions, encoding: "gz+b64", content: gzipBase64(file.content) }
        : { path: file.path, permissions: file.permissions, content: file.content };
}

/**
 * install.sh, then (only if it succeeded) the IMDS guard (after install.sh: the ruleset names the
 * consul user the package creates; nomad.service requires it), the bootstrap as a systemd unit
 * that is retried until the node converges, the deadline timer that has a client replaced if it
 * never does, and the daily TLS renewal timer. `--no-block`: cloud-init's runcmd must not wait
 * for a boot that may take many retries.
 */
export function bootCommand(): string {
    const env = shellQuote(NODE_LAYOUT.envFile);
    return `${shellQuote(INSTALL_SCRIPT_PATH)} ${env} && systemctl daemon-reload && ` +
        `systemctl enable --now --no-block ${IMDS_GUARD_UNIT_NAME} ${BOOTSTRAP_UNIT_NAME} ${BOOT_DEADLINE_TIMER_NAME} ${TLS_RENEW_TIMER_NAME}`;
}

export function cloudConfig(node: NodeProvisioning, compress: boolean): CloudConfig {
    return {
        write_files: nodeFiles(node).map((file) => writeFilesEntry(file, compress)),
        runcmd: [bootCommand()],
    };
}

/** A cloud-config as user data: the `#cloud-config` header line, then the YAML. */
export function serializeCloudConfig(config: CloudConfig): string {
    // YAML 1.1 quoting rules, as cloud-init's PyYAML reads them ("0644" stays a string).
    return `#cloud-config\n${stringify(config, { version: "1.1", lineWidth: 0 })}`;
}

/** The user data document of `node` (plain `#cloud-config`), as cloud-init reads it after gunzip. */
export function renderUserData(node: NodeProvisioning): string {
    return serializeCloudConfig(cloudConfig(node, false));
}

/**
 * What EC2 gets for `node`: the document gzipped (byte-identical everywhere, see `gzipBase64`),
 * checked against the budget. Pass it base64-encoded (`userDataBase64`, launch template `userData`).
 */
export function renderUserDataGzip(node: NodeProvisioning): Buffer {
    const gz = gzipSync(Buffer.from(renderUserData(node), "utf8"), { level: 9 });
    gz[9] = 3;
    if (gz.length > USER_DATA_BUDGET_BYTES) {
        throw new Error(`user data of a ${node.role} is ${gz.length} bytes gzipped, over the budget of ${USER_DATA_BUDGET_BYTES} ` +
            `(EC2 accepts ${USER_DATA_LIMIT_BYTES}): fetch the largest files from SSM or S3 at boot instead (provisioning/aws/cloud-init.ts)`);
    }
    return gz;
}
