/**
 * The shell commands the local target's `@pulumi/command` resources run: pure functions of plain
 * data, so the same input gives byte-identical commands (no diff on an unchanged `pulumi up`) and
 * tests can shellcheck every one. Paths to our scripts are relative to the project root, where
 * `pulumi` runs the program. Secrets never appear here: commands read them from environment
 * variables that the resources pass as Pulumi secrets.
 */
import { LocalPorts, loopbackUrl } from "../loopback";
import { shellQuote } from "../shell-quote";

export const LOCAL_SCRIPTS = {
    agent: "provisioning/local/scripts/local-agent.sh",
    preflight: "provisioning/local/scripts/local-preflight.sh",
    install: "provisioning/local/scripts/local-install.sh",
    acl: "provisioning/local/scripts/local-acl.sh",
    jobs: "provisioning/local/scripts/local-nomad-jobs.sh",
} as const;

/** Environment variable a file-writing command reads the file's content from. */
export const FILE_CONTENT_ENV = "SPIN_CLOUD_FILE_CONTENT";

/**
 * How long a start waits for an agent's API, a stop for the agent to leave, and the destroy's
 * job stop for the allocations to end (their kill timeouts are a few seconds; no shutdown delay).
 */
export const LOCAL_AGENT_TIMEOUTS = { startSeconds: 90, stopGraceSeconds: 20, jobsStopSeconds: 60 } as const;

/** Commands the installer and the scripts need on the machine. */
export const LOCAL_REQUIRED_COMMANDS = ["bash", "curl", "tar", "unzip", "gpg", "ps"] as const;

const command = (argv: readonly string[]): string => argv.map(shellQuote).join(" ");

/** `name=port` pairs of every local port, for the preflight's "in use" check. */
export function portsSpec(ports: LocalPorts): string {
    return Object.entries(ports).map(([name, port]) => `${name}=${port}`).join(" ");
}

/** Checks OS/arch, the commands above and that no local port is taken; reports every problem. */
export function preflightCommand(ports: LocalPorts): string {
    return command(["bash", LOCAL_SCRIPTS.preflight, "--ports", portsSpec(ports), "--require", LOCAL_REQUIRED_COMMANDS.join(" ")]);
}

/** Runs the installer with `installArgs` (local-releases.ts): a verified binary at its cache path. */
export function installCommand(installArgs: readonly string[]): string {
    return command(["bash", LOCAL_SCRIPTS.install, ...installArgs]);
}

/**
 * Writes `$SPIN_CLOUD_FILE_CONTENT` to `file` atomically with the given octal mode (0600 for
 * secrets: umask 077 before the file exists, so it is never readable by others).
 */
export function writeFileCommand(file: string, mode: "0600" | "0644"): string {
    const dir = file.replace(/\/[^/]+$/, "");
    const tmp = `${file}.tmp`;
    return [
        "set -eu",
        "umask 077",
        command(["mkdir", "-p", dir]),
        `printf '%s' "$${FILE_CONTENT_ENV}" > ${shellQuote(tmp)}`,
        command(["chmod", mode, tmp]),
        command(["mv", "-f", tmp, file]),
    ].join("; ");
}

/** Removes files written by `writeFileCommand` (on destroy). */
export function removeFilesCommand(files: readonly string[]): string {
    return command(["rm", "-f", ...files]);
}

/**
 * Creates the state directory and every data directory in it; on destroy (after every agent has
 * stopped) removes the agents' data, so a later `up` starts from scratch with its new tokens.
 * Logs stay for reading. The data directories are created here because Nomad's client refuses
 * to start when a `host_volume` path is missing (Bindle's data directory: "failed to validate
 * volume bindle-data, err: stat …: no such file or directory", client/client.go
 * `setupNode` in hashicorp/nomad v1.6.3); Consul and Nomad would create their own.
 */
export function stateDirCommands(stateDir: string, dataDirs: readonly string[]): { create: string; delete: string } {
    const outside = dataDirs.find((d) => !d.startsWith(`${stateDir}/`));
    if (outside !== undefined) {
        throw new Error(`data directory ${outside} is not inside the state directory ${stateDir}`);
    }
    return { create: command(["mkdir", "-p", stateDir, ...dataDirs]), delete: command(["rm", "-rf", ...dataDirs]) };
}

export interface LocalAgentSpec {
    /** Name of the agent: pid file `<stateDir>/run/<name>.pid`, log `<stateDir>/logs/<name>.log`. */
    readonly name: string;
    readonly stateDir: string;
    /** Root of the agent's HTTP API (the CLIs' CONSUL_HTTP_ADDR / NOMAD_ADDR). */
    readonly address: string;
    /** URL that answers 2xx once the agent's API is up. */
    readonly healthUrl: string;
    /** The agent's command line. */
    readonly argv: readonly string[];
}

export function agentStartCommand(agent: LocalAgentSpec): string {
    return command(["bash", LOCAL_SCRIPTS.agent, "start", "--name", agent.name, "--state-dir", agent.stateDir,
        "--health-url", agent.healthUrl, "--timeout", String(LOCAL_AGENT_TIMEOUTS.startSeconds), "--", ...agent.argv]);
}

export function agentStopCommand(agent: Pick<LocalAgentSpec, "name" | "stateDir">): string {
    return command(["bash", LOCAL_SCRIPTS.agent, "stop", "--name", agent.name, "--state-dir", agent.stateDir,
        "--grace", String(LOCAL_AGENT_TIMEOUTS.stopGraceSeconds)]);
}

/** Consul: a single server agent reading every file of its config directory. */
export function consulAgentSpec(consul: string, configDir: string, stateDir: string, ports: LocalPorts): LocalAgentSpec {
    const address = loopbackUrl(ports.consulHttp);
    return {
        name: "consul",
        stateDir,
        address,
        healthUrl: `${address}/v1/status/leader`,
        argv: [consul, "agent", `-config-dir=${configDir}`],
    };
}

/** Nomad: server and client in one agent, reading every file of its config directory. */
export function nomadAgentSpec(nomad: string, configDir: string, stateDir: string, ports: LocalPorts): LocalAgentSpec {
    const address = loopbackUrl(ports.nomadHttp);
    return {
        name: "nomad",
        stateDir,
        address,
        healthUrl: `${address}/v1/agent/health`,
        argv: [nomad, "agent", `-config=${configDir}`],
    };
}

/** Environment variable holding the SecretID of the token of one Consul policy. */
export function consulTokenEnv(policy: string): string {
    return `SPIN_CLOUD_TOKEN_${policy.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Creates the policies (rules files in `policyDir`) and their tokens; management token from env. */
export function consulAclCommand(consul: string, policyDir: string, policies: readonly string[]): string {
    return command(["bash", LOCAL_SCRIPTS.acl, "consul", "--consul", consul, "--policy-dir", policyDir,
        ...policies.flatMap((p) => ["--policy", `${p}=${consulTokenEnv(p)}`])]);
}

/** Bootstraps Nomad's ACLs with the management token from `SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN`. */
export function nomadAclCommand(nomad: string): string {
    return command(["bash", LOCAL_SCRIPTS.acl, "nomad", "--nomad", nomad]);
}

/**
 * On destroy, before the Nomad agent stops: stops every job and waits (bounded) until no
 * allocation runs; a no-op when the agent is down (after a reboot). Management token from
 * `SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN`.
 */
export function nomadStopJobsCommand(nomad: string): string {
    return command(["bash", LOCAL_SCRIPTS.jobs, "stop", "--nomad", nomad, "--timeout", String(LOCAL_AGENT_TIMEOUTS.jobsStopSeconds)]);
}
