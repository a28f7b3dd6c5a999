/**
 * provisioning/local/scripts/local-preflight.sh, run for real: it checks the platform, the required
 * commands and the ports on 127.0.0.1.
 */
import * as assert from "assert";
import { mkdtempSync, rmSync } from "fs";
import { Server } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { PREFLIGHT, expectedArch, expectedOs, runScript } from "../harness/local-agent-box";
import { freePort, occupyPort, portOf } from "../harness/local-standin";
import { runWithStubs, writeStubs } from "../harness/validators";

describe("local-preflight.sh", () => {
    let servers: Server[] = [];
    let stubRoot: string | undefined;

    const preflight = (args: readonly string[]) => runScript(PREFLIGHT, args);
    const errors = (out: { readonly stderr: string }) => out.stderr.split("\n").filter((l) => l.startsWith("error: "));
    /** Runs preflight with `uname` answering `os` and `arch`. */
    function withUname(os: string, arch: string, args: readonly string[]) {
        stubRoot = mkdtempSync(path.join(tmpdir(), "spin-cloud-preflight-"));
        writeStubs(stubRoot, { uname: `case "$1" in -s) echo "$STUB_OS" ;; -m) echo "$STUB_ARCH" ;; *) exit 1 ;; esac` });
        return runWithStubs(PREFLIGHT, args, stubRoot, { STUB_OS: os, STUB_ARCH: arch });
    }

    afterEach(async () => {
        await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
        servers = [];
        if (stubRoot) rmSync(stubRoot, { recursive: true, force: true });
        stubRoot = undefined;
    });

    it("reports a port in use on 127.0.0.1 with what needs it, and only that port", async () => {
        const busy = await occupyPort();
        servers.push(busy);
        const free = await freePort();
        const out = await preflight(["--ports", `nomad-http=${portOf(busy)} consul-http=${free}`]);
        assert.strictEqual(out.status, 1);
        assert.deepStrictEqual(errors(out), [`error: port ${portOf(busy)} on 127.0.0.1 is in use (needed by nomad-http)`]);
        assert.strictEqual(out.stdout, "");
    });

    it("reports a missing required command", async () => {
        const out = await preflight(["--ports", "", "--require", "sh spin-cloud-no-such-tool"]);
        assert.strictEqual(out.status, 1);
        assert.deepStrictEqual(errors(out), ["error: missing command: spin-cloud-no-such-tool (install it with your package manager)"]);
    });

    it("reports every problem at once: platform, commands and ports", async () => {
        const busy = [await occupyPort(), await occupyPort()];
        servers.push(...busy);
        const out = withUname("FreeBSD", "riscv64", [
            "--ports", `consul-http=${portOf(busy[0])} ${portOf(busy[1])}`, "--require", "no-such-tool-a sh no-such-tool-b",
        ]);
        assert.strictEqual(out.status, 1);
        assert.deepStrictEqual(errors(out), [
            "error: unsupported OS/arch: FreeBSD/riscv64; supported: linux/darwin on amd64/arm64",
            "error: missing command: no-such-tool-a (install it with your package manager)",
            "error: missing command: no-such-tool-b (install it with your package manager)",
            `error: port ${portOf(busy[0])} on 127.0.0.1 is in use (needed by consul-http)`,
            `error: port ${portOf(busy[1])} on 127.0.0.1 is in use`,
        ]);
        assert.doesNotMatch(out.stdout, /ok:/);
    });

    it("succeeds on this machine with free ports and present commands, naming the platform", async () => {
        const ports = [await freePort(), await freePort()];
        const out = await preflight(["--ports", `nomad-http=${ports[0]} ${ports[1]}`, "--require", "sh curl"]);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.strictEqual(out.stdout, `ok: ${expectedOs()}/${expectedArch()}\n`);
        assert.strictEqual(out.stderr, "");
    });

    it("--print-platform prints this machine's <os>_<arch> only", async () => {
        const out = await preflight(["--print-platform"]);
        assert.strictEqual(out.status, 0, out.stderr);
        assert.strictEqual(out.stdout, `${expectedOs()}_${expectedArch()}\n`);
    });

    it("normalises uname's names and rejects other platforms", () => {
        const cases: [string, string, string][] = [
            ["Linux", "x86_64", "linux_amd64"], ["Linux", "aarch64", "linux_arm64"],
            ["Darwin", "arm64", "darwin_arm64"], ["Darwin", "x86_64", "darwin_amd64"],
        ];
        for (const [os, arch, platform] of cases) {
            const out = withUname(os, arch, ["--print-platform"]);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.strictEqual(out.stdout, `${platform}\n`);
            rmSync(stubRoot!, { recursive: true, force: true });
        }
        const other = withUname("Linux", "armv7l", ["--print-platform"]);
        assert.strictEqual(other.status, 1);
        assert.strictEqual(other.stdout, "");
        assert.match(other.stderr, /^error: unsupported OS\/arch: Linux\/armv7l; supported: linux\/darwin on amd64\/arm64$/m);
    });

    it("rejects malformed options, naming the flag", async () => {
        for (const [args, message] of [
            [["--ports", "nomad=http"], /^error: --ports entry 'nomad=http' is not PORT or NAME=PORT/m],
            [["--ports", "70000"], /^error: --ports entry '70000'/m],
            [["--require", "curl"], /^error: --ports is required$/m],
            [["--print-platform", "--ports", "1"], /^error: --print-platform takes no other option$/m],
            [["--ports"], /^error: --ports needs a value$/m],
        ] as [string[], RegExp][]) {
            const out = await preflight(args);
            assert.strictEqual(out.status, 2, args.join(" "));
            assert.match(out.stderr, message);
        }
    });
});
