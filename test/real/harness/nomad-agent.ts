/**
 * A real Nomad (1.6.3) brought up the way the local stack's steps bring it up, and taken down the
 * way its destroy does: every step is the command string of provisioning/local/commands.ts that
 * the `local.Command` resources of components/local/local-agents.ts run, run with bash from the
 * project root in a clean environment (no NOMAD_* of the developer's shell).
 *
 * Up:   state (data dirs) → file-nomad-config, file-nomad-secrets → nomad (local-agent.sh start)
 *       → nomad-acl (local-acl.sh nomad).
 * Down: nomad-jobs (local-nomad-jobs.sh stop) → nomad (local-agent.sh stop) → the two files →
 *       state (rm -rf the data dirs). The Job and Variable resources are `deletedWith` the state
 *       step, so a destroy makes no provider call for them.
 *
 * What the harness changes in the rendered agent configuration is explicit in `forNomad163`.
 */
import { spawnSync } from "child_process";
import { randomUUID } from "crypto";
import { existsSync, readdirSync, readFileSync } from "fs";
import * as path from "path";
import { localNomadSecrets, renderLocalNomadAgentConfig } from "../../../provisioning/local/agent-config";
import {
    FILE_CONTENT_ENV, agentStartCommand, agentStopCommand, nomadAclCommand, nomadAgentSpec, nomadStopJobsCommand,
    removeFilesCommand, stateDirCommands, writeFileCommand,
} from "../../../provisioning/local/commands";
import { LocalNode, localLayout } from "../../../provisioning/local/node";
import { jsonFile } from "../../../provisioning/json-file";
import { CLIENT_NODE_CLASS } from "../../../provisioning/platform";
import { localTraefikPorts } from "./traefik";
import { unmountUnder } from "./nomad-dev";
import { onPath, request, tempDir, waitFor } from "./runtime";

export const NOMAD_BINARY = "nomad";
const ROOT = path.join(__dirname, "..", "..", "..");

/**
 * The rendered agent configuration as Nomad 1.6.3 accepts it. Dropped, each a key 1.6.3 refuses
 * ("client unexpected keys …"):
 * - `client.preferred_address_family`: added in Nomad 1.8.2 (PR #23389).
 * Kept as rendered: `consul.address`/`grpc_address` name the local Consul's ports, on which
 * nothing listens unless `LocalNomad.up` is given a running LocalConsul (test/real/local): without
 * it Nomad starts without Consul and only logs that it cannot sync services, which no test there needs.
 */
export function forNomad163(rendered: string): string {
    const config = JSON.parse(rendered);
    delete config.client.preferred_address_family;
    return jsonFile(config);
}

export interface StepResult { status: number | null; stdout: string; stderr: string }

/** Runs one step's shell text as the command provider does (`/bin/sh -c`), from the project root. */
export function runStep(script: string, env: Record<string, string> = {}): StepResult {
    const clean = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", LOCAL_AGENT_POLL_SECONDS: "0.2", ...env };
    const r = spawnSync("/bin/sh", ["-c", script], { cwd: ROOT, env: clean, encoding: "utf8", timeout: 180_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(step: string, script: string, env: Record<string, string> = {}): StepResult {
    const r = runStep(script, env);
    if (r.status !== 0) throw new Error(`step ${step} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r;
}

/** pid, parent pid, session and start time of a process, from /proc (Linux). */
export interface ProcEntry { pid: number; ppid: number; sid: number; start: string; comm: string }

export function procEntry(pid: number): ProcEntry | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        const fields = stat.slice(close + 2).split(" ");
        // proc(5): after "(comm)": state ppid pgrp session ... field 22 starttime (index 19 here).
        return { pid, comm: stat.slice(stat.indexOf("(") + 1, close), ppid: Number(fields[1]), sid: Number(fields[3]), start: fields[19] };
    } catch {
        return undefined;
    }
}

/** Every process below `root` (children, theirs, ...), from /proc. */
export function descendantsOf(root: number): ProcEntry[] {
    const all = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((d) => procEntry(Number(d))).filter((e): e is ProcEntry => !!e);
    const found = new Set([root]);
    let added = true;
    while (added) {
        added = false;
        for (const e of all) if (!found.has(e.pid) && found.has(e.ppid)) { found.add(e.pid); added = true; }
    }
    return all.filter((e) => e.pid !== root && found.has(e.pid));
}

/** The entries of `recorded` that still run (same pid and start time), zombies aside. */
export function stillRunning(recorded: readonly ProcEntry[]): ProcEntry[] {
    return recorded.filter((r) => {
        const now = procEntry(r.pid);
        if (!now || now.start !== r.start) return false;
        return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${r.pid}/stat`, "utf8"));
    });
}

/**
 * A running LocalConsul (consul-agent.ts) whose node Nomad joins, as the local target runs both:
 * one state directory and port set, Nomad's `consul.token` the `nomad-agent` policy's token.
 */
export interface SharedConsul {
    readonly dir: string;
    readonly node: LocalNode;
    readonly policyTokens: { readonly "nomad-agent": string };
}

export class LocalNomad {
    readonly token = randomUUID();
    readonly address: string;
    readonly agent;
    /** The Consul token in Nomad's secrets file. */
    private consulToken: string = randomUUID();
    /** With a SharedConsul its harness owns the temp dir and the state step. */
    private shared = false;
    private constructor(readonly dir: string, readonly node: LocalNode) {
        this.address = `http://127.0.0.1:${node.ports.nomadHttp}`;
        this.agent = nomadAgentSpec(node.binaries.nomad, node.layout.nomad.configDir, node.layout.root, node.ports);
    }

    get layout() { return this.node.layout; }
    get env(): Record<string, string> { return { NOMAD_ADDR: this.address, SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN: this.token }; }
    private get files() { return [this.layout.nomad.configFile, this.layout.nomad.secretsFile]; }
    private get state() { return stateDirCommands(this.layout.root, [this.layout.consul.dataDir, this.layout.nomad.dataDir, this.layout.bindleData]); }

    /**
     * The local steps up to the ACL bootstrap, on free loopback ports in a temp dir; with `consul`
     * (whose up steps ran, state included) on its node, with its `nomad-agent` token, as the
     * local target wires them (components/local/local-agents.ts `nomad-secrets`).
     */
    static async up(prefix: string, bindleServer = "/usr/local/bin/bindle-server-0.9.1", consul?: SharedConsul): Promise<LocalNomad> {
        const bin = (name: string) => onPath(name) ?? `/usr/local/bin/${name}`;
        let nomad: LocalNomad;
        if (consul) {
            nomad = new LocalNomad(consul.dir, { ...consul.node, binaries: { ...consul.node.binaries, bindleServer } });
            nomad.consulToken = consul.policyTokens["nomad-agent"];
            nomad.shared = true;
        } else {
            const dir = tempDir(prefix);
            nomad = new LocalNomad(dir, {
                role: "local", architecture: process.arch === "arm64" ? "arm64" : "x86_64", clusterName: "spin-cloud-real",
                nomadRegion: "global", datacenter: "local", nodeClass: CLIENT_NODE_CLASS, ports: await localTraefikPorts(),
                layout: localLayout(path.join(dir, "state")),
                binaries: { consul: bin("consul"), nomad: bin(NOMAD_BINARY), traefik: bin("traefik"), bindleServer, spin: bin("spin") },
            });
            mustRun("state", nomad.state.create);
        }
        const { node } = nomad;
        mustRun("file-nomad-config", writeFileCommand(nomad.layout.nomad.configFile, "0644"),
            { [FILE_CONTENT_ENV]: forNomad163(renderLocalNomadAgentConfig(node)) });
        mustRun("file-nomad-secrets", writeFileCommand(nomad.layout.nomad.secretsFile, "0600"),
            { [FILE_CONTENT_ENV]: jsonFile(localNomadSecrets({ consulToken: nomad.consulToken })) });
        mustRun("nomad", agentStartCommand(nomad.agent));
        mustRun("nomad-acl", nomadAclCommand(node.binaries.nomad), nomad.env);
        await waitFor("the Nomad client node to be ready", async () => {
            const nodes = await nomad.api("GET", "/v1/nodes");
            return nodes.status === 200 && JSON.parse(nodes.body).some((n: { Status: string }) => n.Status === "ready") ? true : undefined;
        }, 60_000, 250);
        return nomad;
    }

    /** The agent's pid, as local-agent.sh recorded it. */
    pid(): number {
        return Number(readFileSync(path.join(this.layout.root, "run", "nomad.pid"), "utf8").trim());
    }

    /** One API call; `token: null` for an anonymous one. */
    async api(method: string, urlPath: string, body?: unknown, token: string | null = this.token) {
        return request(`${this.address}${urlPath}`, {
            method,
            headers: { ...(token ? { "X-Nomad-Token": token } : {}), "content-type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    }

    /** The task events of a job's allocations, for failure messages. */
    async allocReport(jobId: string): Promise<string> {
        const allocs = JSON.parse((await this.api("GET", `/v1/job/${jobId}/allocations`)).body) as { ClientStatus: string; TaskStates?: Record<string, { Events: { Type: string; DisplayMessage: string }[] }> }[];
        return JSON.stringify(allocs.map((a) => [a.ClientStatus, Object.entries(a.TaskStates ?? {}).map(([t, st]) => [t, st.Events.map((e) => `${e.Type}: ${e.DisplayMessage}`)])]));
    }

    /**
     * The destroy steps, in the order `pulumi destroy` runs their deletes. With a SharedConsul the
     * state step is not run (no `state`): it comes after Consul's stop, in LocalConsul.destroy.
     */
    destroy(unmountUnder?: (dir: string) => void): Record<"nomadJobs" | "nomad" | "files", StepResult> & { state?: StepResult } {
        const nomadJobs = runStep(nomadStopJobsCommand(this.node.binaries.nomad), this.env);
        const nomad = runStep(agentStopCommand(this.agent));
        const files = runStep(removeFilesCommand(this.files));
        // Only when this suite runs as root: Nomad then mounts a tmpfs in every alloc's secrets/
        // and private/ (client/allocdir/fs_linux.go `createSecretDir`), which stay until the
        // client collects the alloc. The local target runs as the user, where Nomad mounts nothing.
        if (process.getuid?.() === 0) unmountUnder?.(this.layout.nomad.dataDir);
        return { nomadJobs, nomad, files, ...(this.shared ? {} : { state: runStep(this.state.delete) }) };
    }

    /** Backstop for after(): the agent's stop, then SIGKILL to anything left in its session (before LocalConsul.cleanup when shared). */
    cleanup(): void {
        let sid: number | undefined;
        try { sid = this.pid(); } catch { /* never started */ }
        if (existsSync(this.layout.root)) runStep(agentStopCommand(this.agent));
        if (sid !== undefined) {
            for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
                const e = procEntry(Number(d));
                if (e && e.sid === sid) try { process.kill(e.pid, "SIGKILL"); } catch { /* gone */ }
            }
        }
        // As root, Nomad mounts tmpfs secrets/ and private/ in alloc dirs; a killed agent leaves them.
        if (process.getuid?.() === 0) unmountUnder(this.dir);
        if (!this.shared) spawnSync("rm", ["-rf", this.dir]);
    }
}
