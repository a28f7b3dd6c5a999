/**
 * EC2 user data of a node: a `#cloud-config` document (cloud-init `write_files` + `runcmd`)
 * built as data and serialized with the `yaml` package. It writes every non-secret file the node
 * needs and runs install.sh then bootstrap.sh, which fetch the secrets from SSM at boot: no secret
 * is ever part of the user data.
 *
 * EC2 accepts at most 16384 bytes of raw user data. When the plain document would not fit, every
 * file is written with cloud-init's `encoding: gz+b64` (cloud-init write_files schema), which
 * keeps the outer document plain YAML that `cloud-init schema` can still validate.
 */
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
import { NOMAD_UNIT_NAME, renderUnit, systemdUnits } from "./systemd-units";
import { assertNever, NodeProvisioning } from "../types";

/** EC2's limit on raw (not yet base64-encoded) user data. */
export const USER_DATA_LIMIT_BYTES = 16384;

const SCRIPT_SOURCE_DIR = path.join(__dirname, "scripts");
const INSTALL_SCRIPT = readFileSync(path.join(SCRIPT_SOURCE_DIR, "install.sh"), "utf8");
const BOOTSTRAP_SCRIPT = readFileSync(path.join(SCRIPT_SOURCE_DIR, "bootstrap.sh"), "utf8");

/** Where the scripts live on the node. */
export const INSTALL_SCRIPT_PATH = `${NODE_LAYOUT.scriptDir}/install.sh`;
export const BOOTSTRAP_SCRIPT_PATH = `${NODE_LAYOUT.scriptDir}/bootstrap.sh`;

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
        { path: NODE_LAYOUT.consul.configFile, content: renderConsulAgentConfig(node), permissions: "0644" },
        { path: NODE_LAYOUT.nomad.configFile, content: renderNomadAgentConfig(node), permissions: "0644" },
        ...roleFiles(node),
        ...systemdUnits().map((unit) => ({ path: unit.path, content: renderUnit(unit), permissions: "0644" as const })),
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

/** install.sh then bootstrap.sh, the second only if the first succeeded. */
export function bootCommand(): string {
    const env = shellQuote(NODE_LAYOUT.envFile);
    return `${shellQuote(INSTALL_SCRIPT_PATH)} ${env} && ${shellQuote(BOOTSTRAP_SCRIPT_PATH)} ${env}`;
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

/** The user data of `node`: plain when it fits EC2's limit, file contents gzipped otherwise. */
export function renderUserData(node: NodeProvisioning): string {
    const plain = serializeCloudConfig(cloudConfig(node, false));
    if (Buffer.byteLength(plain, "utf8") < USER_DATA_LIMIT_BYTES) {
        return plain;
    }
    const compressed = serializeCloudConfig(cloudConfig(node, true));
    const size = Buffer.byteLength(compressed, "utf8");
    if (size >= USER_DATA_LIMIT_BYTES) {
        throw new Error(`user data is ${size} bytes even compressed; EC2 accepts less than ${USER_DATA_LIMIT_BYTES}`);
    }
    return compressed;
}
