/**
 * Wrappers around the external validators the provisioning tests use: `shellcheck` (0.9) and
 * Debian's `cloud-init` (22.4, whose CLI is `cloud-init schema -c <file>`; it prints "Valid
 * cloud-config: <file>" and exits 0, or exits 1 with the schema errors on stderr).
 *
 * A missing tool is an error, not a skip: a test that cannot validate must not pass.
 */
import { spawnSync } from "child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

export interface ValidationResult {
    readonly ok: boolean;
    /** The tool's findings (empty when ok). */
    readonly output: string;
}

export interface ShellSource {
    /** A name for messages; also the temp file's base name. */
    readonly name: string;
    readonly content: string;
}

export type ShellDialect = "sh" | "bash";

interface ShellcheckComment {
    readonly file: string;
    readonly line: number;
    readonly column: number;
    readonly level: string;
    readonly code: number;
    readonly message: string;
}

const announced = new Set<string>();
/** The context of the running test, so a missing validator can mark it skipped (`this.skip()`). */
let runningTest: Mocha.Context | undefined;
/** Which validator a test's own code names, so an async test is skipped before it starts. */
const VALIDATOR_USE: readonly [RegExp, string][] = [[/shellcheck/i, "shellcheck"], [/cloudInitSchema|cloud-init/, "cloud-init"]];
beforeEach(function () {
    runningTest = this;
    const source = String(this.currentTest?.fn ?? "");
    for (const [pattern, command] of VALIDATOR_USE) {
        if (pattern.test(source) && process.env.CI !== "true" && !installed(command)) {
            announceMissing(command);
            this.skip();
        }
    }
});

function installed(command: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

function announceMissing(command: string): void {
    if (announced.has(command)) return;
    announced.add(command);
    process.stderr.write(`  skipping the tests that need ${command}: it is not installed (${command === "cloud-init" ? "Debian/Ubuntu: apt-get install cloud-init; CI installs it" : "see README"})\n`);
}
afterEach(() => {
    runningTest = undefined;
});

/**
 * On a developer's machine a test that needs a validator which is not installed is skipped, and
 * says so once; under CI (`CI=true`, set by .ci/run's environment) it fails: CI must never skip them.
 */
function run(command: string, args: readonly string[]) {
    const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.error) {
        if ((result.error as NodeJS.ErrnoException).code === "ENOENT" && process.env.CI !== "true") {
            announceMissing(command);
            runningTest?.skip();
            throw new Error(`${command} is not installed (needed outside a test, so this cannot be skipped)`);
        }
        throw new Error(`cannot run ${command}: ${result.error.message}`);
    }
    return result;
}

function withTempDir<T>(body: (dir: string) => T): T {
    const dir = mkdtempSync(path.join(tmpdir(), "spin-cloud-validate-"));
    try {
        return body(dir);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Runs ONE shellcheck over all `files` at its default severity (style: every finding counts) and
 * returns a result per file, in the order given. `dialect` forces the shell (`-s`); by default
 * shellcheck reads each file's shebang.
 */
export function shellcheckFiles(files: readonly string[], dialect?: ShellDialect): Map<string, ValidationResult> {
    const results = new Map<string, ValidationResult>();
    if (files.length === 0) {
        return results;
    }
    const args = ["-f", "json1", ...(dialect ? ["-s", dialect] : []), "--", ...files];
    const result = run("shellcheck", args);
    let comments: ShellcheckComment[];
    try {
        comments = (JSON.parse(result.stdout) as { comments: ShellcheckComment[] }).comments;
    } catch {
        throw new Error(`shellcheck failed (exit ${result.status}): ${result.stderr}${result.stdout}`);
    }
    for (const file of files) {
        const mine = comments.filter((c) => c.file === file);
        const output = mine.map((c) => `${c.file}:${c.line}:${c.column}: ${c.level} SC${c.code}: ${c.message}`).join("\n");
        results.set(file, { ok: mine.length === 0, output });
    }
    return results;
}

/** shellcheck over in-memory sources (one run for all); keyed by `name`. */
export function shellcheckSources(sources: readonly ShellSource[], dialect?: ShellDialect): Map<string, ValidationResult> {
    return withTempDir((dir) => {
        const paths = sources.map((source, i) => {
            const file = path.join(dir, `${i}-${path.basename(source.name)}`);
            writeFileSync(file, source.content);
            return file;
        });
        const byPath = shellcheckFiles(paths, dialect);
        return new Map(sources.map((source, i) => [source.name, byPath.get(paths[i])!]));
    });
}

/**
 * Writes each stub as an executable bash script `<dir>/<name>` (body after the shebang), so a
 * script run with `<dir>` first on PATH calls the stubs instead of the real commands.
 */
export function writeStubs(dir: string, stubs: Readonly<Record<string, string>>): void {
    mkdirSync(dir, { recursive: true });
    for (const [name, body] of Object.entries(stubs)) {
        writeFileSync(path.join(dir, name), `#!/bin/bash\n${body}\n`);
        chmodSync(path.join(dir, name), 0o755);
    }
}

/** Runs `bash <script> <args>` with `stubDir` first on PATH and only `env` besides PATH. */
export function runWithStubs(script: string, args: readonly string[], stubDir: string, env: Readonly<Record<string, string>>) {
    return spawnSync("bash", [script, ...args], {
        encoding: "utf8",
        env: { ...env, PATH: `${stubDir}:${process.env.PATH}` },
        timeout: 30000,
    });
}

/** `cloud-init schema -c <file>` over a user-data document. */
export function cloudInitSchema(userData: string): ValidationResult {
    return withTempDir((dir) => {
        const file = path.join(dir, "user-data.yaml");
        writeFileSync(file, userData);
        const result = run("cloud-init", ["schema", "-c", file]);
        const ok = result.status === 0 && result.stdout.includes("Valid cloud-config");
        return { ok, output: ok ? "" : `exit ${result.status}\n${result.stdout}${result.stderr}` };
    });
}
