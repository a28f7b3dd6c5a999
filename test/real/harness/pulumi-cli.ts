/**
 * The real Pulumi CLI on this project: a file backend, a passphrase and a PULUMI_HOME in a temp
 * dir, no update check and no plugin downloads, so `pulumi preview` runs offline against the
 * plugins on PATH. The tracked stack files are never written: `pulumi stack init` runs in a temp
 * project dir of the same name (the passphrase secrets manager writes its `encryptionsalt` into
 * the stack file there), and preview reads a temp copy of `stacks/Pulumi.<stack>.yaml` with that
 * salt through `--config-file` (pulumi/pulumi v3.248.0 pkg/cmd/pulumi/operations/preview.go).
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ROOT, STACKS_DIR } from "../../harness/stack-config";
import { onPath, Processes, tempDir } from "./runtime";

/** What `pulumi preview` of the local stack runs: the CLI, the Node.js language host and the plugins of the program. */
export const PULUMI_BINARIES = [
    "pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs",
    "pulumi-resource-command", "pulumi-resource-random", "pulumi-resource-tls",
] as const;

/** The Nomad provider plugin; pulumi-nomad 2.6.1 is not built here (it compiles BUSL Nomad code). */
export const NOMAD_PLUGIN = "pulumi-resource-nomad";

const STANDIN = path.join(__dirname, "nomad-plugin-standin.ts");
const PREVIEW_TIMEOUT_MS = 240_000;

export interface PreviewResult { readonly code: number | null; readonly output: string }

/** The user's variables that would point the CLI elsewhere (a service backend, another home, a passphrase file). */
const FOREIGN_ENV = /^(PULUMI_|NOMAD_|CONSUL_)/;

export class PulumiWorkspace {
    readonly dir = tempDir("pulumi");
    private readonly procs = new Processes(path.join(this.dir, "logs"));
    private readonly salts = new Map<string, string>();
    private readonly bin = path.join(this.dir, "bin");

    constructor(private readonly options: { readonly nomadStandin: boolean }) {
        for (const sub of ["state", "home", "bin", "init", "logs"]) fs.mkdirSync(path.join(this.dir, sub));
        if (options.nomadStandin) this.writeStandin();
    }

    env(): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !FOREIGN_ENV.test(k)));
        return {
            ...env,
            PATH: this.options.nomadStandin ? `${this.bin}${path.delimiter}${process.env.PATH ?? ""}` : process.env.PATH,
            PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "spin-cloud-real-test",
            PULUMI_HOME: path.join(this.dir, "home"),
            PULUMI_SKIP_UPDATE_CHECK: "1",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
    }

    /** `pulumi stack init <stack>` in a temp project dir named like this project; keeps the salt it writes. */
    async initStack(stack: string): Promise<void> {
        const initDir = path.join(this.dir, "init");
        fs.writeFileSync(path.join(initDir, "Pulumi.yaml"), YAML.stringify({ name: "spin-cloud", runtime: "nodejs" }));
        const result = await this.run("stack-init", ["stack", "init", stack, "--non-interactive"], initDir, 60_000);
        if (result.code !== 0) throw new Error(`pulumi stack init ${stack} failed:\n${result.output}`);
        const written = YAML.parse(fs.readFileSync(path.join(initDir, `Pulumi.${stack}.yaml`), "utf8")) as { encryptionsalt?: string };
        if (!written.encryptionsalt) throw new Error(`pulumi stack init ${stack} wrote no encryptionsalt`);
        this.salts.set(stack, written.encryptionsalt);
    }

    /**
     * A temp copy of `stacks/Pulumi.<stack>.yaml`, `overrides` (full keys) set, with the stack's salt;
     * with `shipped: false`, a stack file that holds only `overrides`.
     */
    configFile(stack: string, overrides: Readonly<Record<string, string>> = {}, shipped = true): string {
        const shippedFile = path.join(STACKS_DIR, `Pulumi.${stack}.yaml`);
        const shippedConfig = shipped ? (YAML.parse(fs.readFileSync(shippedFile, "utf8")) as { config?: Record<string, unknown> }).config : {};
        const file = path.join(this.dir, `Pulumi.${stack}.${this.salts.size}-${Object.keys(overrides).length}-${Date.now()}.yaml`);
        fs.writeFileSync(file, YAML.stringify({ config: { ...shippedConfig, ...overrides }, encryptionsalt: this.salts.get(stack) }));
        return file;
    }

    /** `pulumi preview --stack <stack>` of this project (cwd = the repository root), bounded; `shipped` as in configFile. */
    async preview(stack: string, args: readonly string[] = [], overrides: Readonly<Record<string, string>> = {}, shipped = true): Promise<PreviewResult> {
        const configFile = this.configFile(stack, overrides, shipped);
        return this.run("preview", ["preview", "--stack", stack, "--non-interactive", "--color", "never", "--config-file", configFile, ...args], ROOT, PREVIEW_TIMEOUT_MS);
    }

    /** `pulumi config --json` of the stack, as the CLI merges Pulumi.yaml's declarations into it; `shipped` as in configFile. */
    async configJson(stack: string, overrides: Readonly<Record<string, string>> = {}, shipped = true): Promise<Record<string, { value?: string; objectValue?: unknown }>> {
        const configFile = this.configFile(stack, overrides, shipped);
        const result = await this.run("config", ["config", "--json", "--stack", stack, "--non-interactive", "--config-file", configFile], ROOT, 60_000);
        if (result.code !== 0) throw new Error(`pulumi config --json failed:\n${result.output}`);
        return JSON.parse(result.output.slice(result.output.indexOf("{")));
    }

    async cleanup(): Promise<void> {
        await this.procs.stopAll(5_000);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    /** `pulumi <args>` in `cwd` with this workspace's environment, bounded. */
    async run(name: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<PreviewResult> {
        const started = this.procs.start(name, onPath("pulumi") ?? "pulumi", args, { cwd, env: this.env() });
        const exited = new Promise<number | null>((resolve) => started.child.once("exit", (code) => resolve(code)));
        // A timer cleared on exit: a pending one would hold mocha's exit for up to timeoutMs after the last test.
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<"timeout">((resolve) => { timer = setTimeout(() => resolve("timeout"), timeoutMs); });
        const code = await Promise.race([exited, timedOut]).finally(() => clearTimeout(timer));
        if (code === "timeout") {
            await this.procs.stop(started, 5_000);
            throw new Error(`pulumi ${args.join(" ")} did not finish in ${timeoutMs} ms:\n${started.log()}`);
        }
        return { code, output: started.log() };
    }

    /** `pulumi-resource-nomad` in the temp bin dir: the stand-in of nomad-plugin-standin.ts, run by this Node. */
    private writeStandin(): void {
        const tsNode = require.resolve("ts-node/register/transpile-only");
        const script = `#!/bin/sh\nexec '${process.execPath}' -r '${tsNode}' '${STANDIN}' "$@"\n`;
        fs.writeFileSync(path.join(this.bin, NOMAD_PLUGIN), script, { mode: 0o755 });
    }
}
