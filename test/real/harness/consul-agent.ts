/**
 * A real Consul (1.16.3, the last MPL-2.0 release line) brought up two ways:
 *
 * - `LocalConsul`: the way the local stack's steps bring it up. Every step is the command string
 *   of provisioning/local/commands.ts that a `local.Command` of components/local/local-agents.ts
 *   runs, run with /bin/sh from the project root in a clean environment:
 *   state → file-consul-config, file-consul-secrets, file-consul-policy-* → consul
 *   (local-agent.sh start) → consul-acl (local-acl.sh consul). Down: consul (local-agent.sh stop)
 *   → the files → state.
 * - `awsConsulServerOnLoopback`: the AWS server configuration (provisioning/agents/consul-config.ts)
 *   made runnable as one server on 127.0.0.1, for the server roll gate.
 *
 * The pinned release is 1.22.0 (provisioning/versions.ts); what the harness changes for 1.16.3
 * is explicit in `forConsul1163`. Consul refuses a key it does not know at start ("invalid config
 * key", agent/config/builder.go in hashicorp/consul v1.16.3), so a key added later that 1.16.3
 * lacks fails these tests loudly until it is dropped there, with its reason.
 */
import { execFileSync } from "child_process";
import { randomUUID } from "crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "fs";
import * as path from "path";
import { LOCAL_CONSUL_POLICIES } from "../../../components/local/local-agents";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../../provisioning/agents/consul-acl-policies";
import { localConsulSecrets, renderLocalConsulAgentConfig } from "../../../provisioning/local/agent-config";
import {
    FILE_CONTENT_ENV, agentStartCommand, agentStopCommand, consulAclCommand, consulAgentSpec, consulTokenEnv,
    removeFilesCommand, stateDirCommands, writeFileCommand,
} from "../../../provisioning/local/commands";
import { LocalNode, localLayout } from "../../../provisioning/local/node";
import { jsonFile } from "../../../provisioning/json-file";
import { CLIENT_NODE_CLASS } from "../../../provisioning/platform";
import { runStep, StepResult } from "./nomad-agent";
import { onPath, request, tempDir } from "./runtime";
import { localTraefikPorts } from "./traefik";

export const CONSUL_BINARY = "consul";

/**
 * A rendered Consul configuration as Consul 1.16.3 accepts it. Dropped: nothing. Every key the
 * project renders for the local target and for the AWS servers and clients is one 1.16.3 knows
 * (`consul validate` of 1.16.3 passes all three). A key of the pinned 1.22.0 that 1.16.3 lacks
 * goes here as `delete config.<key>` with the release that added it.
 */
export function forConsul1163(rendered: string): string {
    const config = JSON.parse(rendered);
    return jsonFile(config);
}

export type LocalPolicy = (typeof LOCAL_CONSUL_POLICIES)[number];

/** The local steps' names, in the order `pulumi up` runs them (components/local/local-agents.ts). */
export type ConsulStep = "state" | "file-consul-config" | "file-consul-secrets" | `file-consul-policy-${LocalPolicy}` | "consul" | "consul-acl";

export class LocalConsul {
    readonly managementToken = randomUUID();
    /** The SecretID of each local policy's token; `consul-agent`'s is also the agent's `acl.tokens.agent`. */
    readonly policyTokens = Object.fromEntries(LOCAL_CONSUL_POLICIES.map((p) => [p, randomUUID()])) as Record<LocalPolicy, string>;
    readonly agent;
    private constructor(readonly dir: string, readonly node: LocalNode) {
        this.agent = consulAgentSpec(node.binaries.consul, node.layout.consul.configDir, node.layout.root, node.ports);
    }

    get layout() { return this.node.layout; }
    get address(): string { return this.agent.address; }
    get secrets(): string[] { return [this.managementToken, ...Object.values(this.policyTokens)]; }
    private get state() { return stateDirCommands(this.layout.root, [this.layout.consul.dataDir, this.layout.nomad.dataDir, this.layout.bindleData]); }
    private policyFile(policy: LocalPolicy): string { return `${this.layout.consul.policyDir}/${policy}.json`; }
    private get files(): string[] {
        return [this.layout.consul.configFile, this.layout.consul.secretsFile, ...LOCAL_CONSUL_POLICIES.map((p) => this.policyFile(p))];
    }

    /** A node on free loopback ports in a temp dir; nothing runs yet. */
    static async create(prefix: string): Promise<LocalConsul> {
        const dir = tempDir(prefix);
        const bin = (name: string) => onPath(name) ?? `/usr/local/bin/${name}`;
        const node: LocalNode = {
            role: "local", architecture: process.arch === "arm64" ? "arm64" : "x86_64", clusterName: "spin-cloud-real",
            nomadRegion: "global", datacenter: "local", nodeClass: CLIENT_NODE_CLASS, ports: await localTraefikPorts(),
            layout: localLayout(path.join(dir, "state")),
            binaries: { consul: bin(CONSUL_BINARY), nomad: bin("nomad"), traefik: bin("traefik"), bindleServer: bin("bindle-server"), spin: bin("spin") },
        };
        return new LocalConsul(dir, node);
    }

    /**
     * Every step of `pulumi up` up to the ACLs, each as [name, shell text, environment]: what the
     * command provider runs, with the environment the resource passes (secrets only there).
     */
    upSteps(): [ConsulStep, string, Record<string, string>][] {
        const secrets = jsonFile(localConsulSecrets({ managementToken: this.managementToken, agentToken: this.policyTokens["consul-agent"] }));
        return [
            ["state", this.state.create, {}],
            ["file-consul-config", writeFileCommand(this.layout.consul.configFile, "0644"),
                { [FILE_CONTENT_ENV]: forConsul1163(renderLocalConsulAgentConfig(this.node)) }],
            ["file-consul-secrets", writeFileCommand(this.layout.consul.secretsFile, "0600"), { [FILE_CONTENT_ENV]: secrets }],
            ...LOCAL_CONSUL_POLICIES.map((p): [ConsulStep, string, Record<string, string>] => [`file-consul-policy-${p}`,
                writeFileCommand(this.policyFile(p), "0644"), { [FILE_CONTENT_ENV]: renderConsulPolicyRules(CONSUL_ACL_POLICIES.find((x) => x.name === p)!) }]),
            ["consul", agentStartCommand(this.agent), {}],
            this.aclStep(),
        ];
    }

    /** The consul-acl step with the environment local-agents.ts gives it. */
    aclStep(): [ConsulStep, string, Record<string, string>] {
        return ["consul-acl", consulAclCommand(this.node.binaries.consul, this.layout.consul.policyDir, LOCAL_CONSUL_POLICIES), {
            CONSUL_HTTP_ADDR: this.address,
            CONSUL_HTTP_TOKEN: this.managementToken,
            ...Object.fromEntries(LOCAL_CONSUL_POLICIES.map((p) => [consulTokenEnv(p), this.policyTokens[p]])),
        }];
    }

    /** Runs the up steps in order, `wrap` around each shell text (e.g. a tracer); stops at the first failure. */
    up(wrap: (step: ConsulStep, script: string) => string = (_s, script) => script): StepResult {
        let last: StepResult = { status: 0, stdout: "", stderr: "" };
        for (const [step, script, env] of this.upSteps()) {
            last = runStep(wrap(step, script), env);
            if (last.status !== 0) throw new Error(`step ${step} failed (${last.status}): ${last.stderr}${last.stdout}\n${this.logTail()}`);
        }
        return last;
    }

    /** The agent's pid, as local-agent.sh recorded it. */
    pid(): number {
        return Number(readFileSync(path.join(this.layout.root, "run", "consul.pid"), "utf8").trim());
    }

    logTail(): string {
        const file = path.join(this.layout.root, "logs", "consul.log");
        return existsSync(file) ? `--- consul.log ---\n${readFileSync(file, "utf8").slice(-3000)}` : "(no consul.log)";
    }

    /** One API call; `token: null` for an anonymous one. */
    async api(method: string, urlPath: string, body?: unknown, token: string | null = this.managementToken) {
        return request(`${this.address}${urlPath}`, {
            method,
            headers: { ...(token ? { "X-Consul-Token": token } : {}), "content-type": "application/json" },
            body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
        });
    }

    /** The destroy steps in the order `pulumi destroy` runs them. */
    destroy(): Record<"consul" | "files" | "state", StepResult> {
        const consul = runStep(agentStopCommand(this.agent));
        return { consul, files: runStep(removeFilesCommand(this.files)), state: runStep(this.state.delete) };
    }

    /** Backstop for after(): the agent's stop, then SIGKILL to its recorded pid, then the temp dir. */
    cleanup(): void {
        let pid: number | undefined;
        try { pid = this.pid(); } catch { /* never started */ }
        if (existsSync(this.layout.root)) runStep(agentStopCommand(this.agent));
        if (pid !== undefined) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
        runStep(`rm -rf '${this.dir}'`);
    }
}

/** What `awsConsulServerOnLoopback` needs: a data dir, free ports, the test PKI's files. */
export interface LoopbackServer {
    dataDir: string;
    ports: { http: number; https: number; dns: number; server: number; serfLan: number; serfWan: number };
    tls: { caFile: string; certFile: string; keyFile: string };
}

/**
 * The AWS server configuration (`renderConsulAgentConfig` of a server of a 1-server cluster, so
 * `bootstrap_expect` 1 as rendered) made runnable here. Only where it listens and which files it
 * reads change; ACLs, TLS verification, auto_encrypt, Connect and the UI stay as rendered:
 * - `bind_addr`, `advertise_addr`, `addresses.https`: 127.0.0.1 instead of the go-sockaddr
 *   template of the machine's private IP (this machine's interfaces are not bound);
 * - `ports`: free ports for every listener, also `server`/`serf_lan`/`serf_wan`, which AWS leaves
 *   at their defaults (8300-8302); gRPC-TLS off (nothing here speaks it; its port would be fixed);
 * - `retry_join` removed: cloud auto-join would call the AWS API;
 * - `data_dir` and `tls.defaults.{ca,cert,key}_file`: the temp dir and the test PKI.
 */
export function awsConsulServerOnLoopback(rendered: string, where: LoopbackServer): Record<string, unknown> {
    const config = JSON.parse(forConsul1163(rendered));
    config.data_dir = where.dataDir;
    config.bind_addr = "127.0.0.1";
    config.advertise_addr = "127.0.0.1";
    config.addresses = { https: "127.0.0.1" };
    const p = where.ports;
    config.ports = { http: p.http, https: p.https, grpc: -1, grpc_tls: -1, dns: p.dns, server: p.server, serf_lan: p.serfLan, serf_wan: p.serfWan };
    delete config.retry_join;
    config.tls.defaults = { ...config.tls.defaults, ca_file: where.tls.caFile, cert_file: where.tls.certFile, key_file: where.tls.keyFile };
    return config;
}

/** One socket a process listens on: TCP in LISTEN state, or a bound UDP socket. */
export interface Listener { proto: "tcp" | "udp" | "tcp6" | "udp6"; address: string; port: number }

/**
 * The sockets process `pid` listens on, from /proc (Linux; proc(5) `/proc/net/tcp`: hex
 * `address:port`, IPv4 in host byte order, state 0A = LISTEN), matched by inode to its fds.
 */
export function listenersOf(pid: number): Listener[] {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
            const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
            if (m) inodes.add(m[1]);
        } catch { /* closed meanwhile */ }
    }
    const found: Listener[] = [];
    for (const proto of ["tcp", "udp", "tcp6", "udp6"] as const) {
        for (const line of readFileSync(`/proc/${pid}/net/${proto}`, "utf8").trim().split("\n").slice(1)) {
            const f = line.trim().split(/\s+/);
            const [hexAddress, hexPort] = f[1].split(":");
            if (!inodes.has(f[9]) || (proto.startsWith("tcp") && f[3] !== "0A")) continue;
            const address = hexAddress.length === 8
                ? hexAddress.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".")
                : `v6:${hexAddress}`;
            found.push({ proto, address, port: parseInt(hexPort, 16) });
        }
    }
    return found;
}

/**
 * A Consul server certificate signed by the test CA of test/aws/loopback-pki.ts (its `ca.key` in
 * `pki.dir`), named as provisioning/aws/pki.ts names a server's: `server.<datacenter>.consul`,
 * which `tls.internal_rpc.verify_server_hostname` makes every server RPC check (the leader's
 * autopilot fetches its own stats over RPC: without the name autopilot calls it unhealthy),
 * plus 127.0.0.1 for the HTTPS API. Usable for server and client auth (`verify_incoming`).
 */
export function consulServerCertificate(pki: { dir: string; caFile: string }, datacenter: string): { certFile: string; keyFile: string } {
    const file = (name: string) => path.join(pki.dir, name);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: pki.dir, stdio: ["ignore", "ignore", "pipe"] });
    writeFileSync(file("consul.ext"), `subjectAltName=IP:127.0.0.1,DNS:server.${datacenter}.consul,DNS:localhost\n` +
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", file("consul.key"), "-out", file("consul.csr"),
        "-subj", `/CN=server.${datacenter}.consul`);
    openssl("x509", "-req", "-in", file("consul.csr"), "-CA", pki.caFile, "-CAkey", file("ca.key"), "-set_serial", "3", "-days", "2",
        "-extfile", file("consul.ext"), "-out", file("consul.pem"));
    return { certFile: file("consul.pem"), keyFile: file("consul.key") };
}
