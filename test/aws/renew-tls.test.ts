/**
 * TLS renewal on running nodes: renew-tls.sh against stand-ins (an `aws` that serves SSM
 * parameters from a file, `systemctl`, `chown`, `install`, `id` stubs; real openssl, jq, cmp and
 * mktemp over real certificates made here with openssl), its shellcheck, the timer in the user data,
 * and the certificate lifetimes it relies on.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { CERTIFICATE_LIFETIMES } from "../../components/aws/cluster-secrets";
import { RENEW_TLS_SCRIPT_PATH, renderUserData } from "../../provisioning/aws/cloud-init";
import { nodeEnvEntries } from "../../provisioning/aws/node-env";
import { shellQuote } from "../../provisioning/shell-quote";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { SAMPLE_CLIENT, SAMPLE_NODES } from "../fixtures/nodes";
import { SCRIPTS } from "../harness/script-sandbox";
import { runWithStubs, shellcheckFiles, writeStubs } from "../harness/validators";

const RENEW = path.join(SCRIPTS, "renew-tls.sh");

const STUBS: Readonly<Record<string, string>> = {
    id: "echo 0",
    chown: `printf '%s\\n' "$*" >>"$STUB_STATE/chown.log"`,
    install: `for a; do d=$a; done; mkdir -p "$d"`,
    systemctl: `printf '%s\\n' "$*" >>"$STUB_STATE/systemctl.log"`,
    // `aws ssm get-parameters --names <n>...`: the named ones from params.json ({name: value}).
    aws: `printf '%s\\n' "$*" >>"$STUB_STATE/aws.log"; names=(); on=
          for a; do case "$a" in --names) on=1 ;; --*) on= ;; *) [ -n "$on" ] && names+=("$a") ;; esac; done
          jq -c --args '. as $p | {Parameters: [$ARGS.positional[] | select($p[.]) | {Name: ., Value: $p[.]}]}' "\${names[@]}" <"$STUB_STATE/params.json"`,
};

function openssl(cwd: string, args: string[]): void {
    const out = spawnSync("openssl", args, { cwd, encoding: "utf8" });
    assert.strictEqual(out.status, 0, `openssl ${args.join(" ")}:\n${out.stderr}`);
}

/** A CA and certificates made with openssl: `cert` and `renewed` share `key`; `foreign` has another CA. */
function makePki(dir: string) {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(dir, ["req", "-x509", ...ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=test CA", "-days", "3650"]);
    openssl(dir, ["req", "-x509", ...ec, "-keyout", "other-ca-key.pem", "-out", "other-ca.pem", "-subj", "/CN=other CA", "-days", "3650"]);
    openssl(dir, ["req", "-new", ...ec, "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN=client.global.nomad"]);
    for (const [out, ca, days] of [["cert.pem", "ca", "365"], ["renewed.pem", "ca", "365"], ["foreign.pem", "other-ca", "365"]]) {
        openssl(dir, ["x509", "-req", "-in", "req.csr", "-CA", `${ca}.pem`, "-CAkey", `${ca}-key.pem`, "-CAcreateserial", "-out", out, "-days", days]);
    }
    const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
    return { ca: read("ca.pem"), key: read("key.pem"), cert: read("cert.pem"), renewed: read("renewed.pem"), foreign: read("foreign.pem"), otherKey: read("other-ca-key.pem") };
}

interface Box {
    readonly root: string;
    readonly state: string;
    readonly env: Map<string, string>;
}

function box(): Box {
    const root = mkdtempSync(path.join(tmpdir(), "spin-cloud-renew-"));
    const state = path.join(root, "state");
    mkdirSync(state);
    writeStubs(path.join(root, "bin"), STUBS);
    const env = new Map(nodeEnvEntries(SAMPLE_CLIENT).map(([k, v]) => [k, /^\/(etc|opt)\//.test(v) ? root + v : v]));
    writeFileSync(path.join(root, "node.env"), [...env].map(([k, v]) => `${k}=${shellQuote(v)}`).join("\n") + "\n");
    return { root, state, env };
}

function serve(b: Box, material: { ca?: string; cert?: string; key?: string }): void {
    const params: Record<string, string> = {};
    if (material.ca !== undefined) params[`${b.env.get("SSM_PATH_COMMON")}/ca-cert`] = material.ca;
    if (material.cert !== undefined) params[`${b.env.get("SSM_PATH_ROLE")}/tls-cert`] = material.cert;
    if (material.key !== undefined) params[`${b.env.get("SSM_PATH_ROLE")}/tls-key`] = material.key;
    writeFileSync(path.join(b.state, "params.json"), JSON.stringify(params));
}

function renew(b: Box, secrets: readonly string[]) {
    const out = runWithStubs(RENEW, [path.join(b.root, "node.env")], path.join(b.root, "bin"), { STUB_STATE: b.state });
    for (const s of secrets) {
        assert.ok(!out.stdout.includes(s) && !out.stderr.includes(s), "key material reached the script's output");
    }
    return out;
}

const log = (b: Box, name: string) => (existsSync(path.join(b.state, name)) ? readFileSync(path.join(b.state, name), "utf8") : "");
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe("renew-tls.sh (against stand-ins)", function () {
    this.timeout(60000);
    let pkiDir: string;
    let pki: ReturnType<typeof makePki>;
    before(() => {
        pkiDir = mkdtempSync(path.join(tmpdir(), "spin-cloud-pki-"));
        pki = makePki(pkiDir);
    });
    after(() => rmSync(pkiDir, { recursive: true, force: true }));

    it("passes shellcheck with no finding", () => {
        for (const [file, result] of shellcheckFiles([RENEW])) {
            assert.ok(result.ok, `${file}:\n${result.output}`);
        }
    });

    it("replaces changed material atomically with the bootstrap's modes and owners, then reloads both agents; unchanged: no write, no reload", () => {
        const b = box();
        try {
            const [caFile, certFile, keyFile] = ["TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"].map((k) => b.env.get(k)!);
            // The node as bootstrap.sh left it, with last year's certificate.
            serve(b, pki);
            assert.strictEqual(renew(b, [pki.key]).status, 0);
            writeFileSync(path.join(b.state, "systemctl.log"), "");
            const held = path.join(b.root, "held-cert.pem");
            linkSync(certFile, held);
            const before = { ca: statSync(caFile).ino, cert: statSync(certFile).ino, key: statSync(keyFile).ino };

            serve(b, { ...pki, cert: pki.renewed });
            const out = renew(b, [pki.key]);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.strictEqual(readFileSync(certFile, "utf8"), pki.renewed);
            assert.strictEqual(readFileSync(caFile, "utf8"), pki.ca);
            assert.strictEqual(readFileSync(keyFile, "utf8"), pki.key);
            // Replaced by rename, never rewritten in place: the old inode still holds the old certificate.
            assert.strictEqual(readFileSync(held, "utf8"), pki.cert);
            assert.notStrictEqual(statSync(certFile).ino, before.cert);
            assert.deepStrictEqual(readdirSync(path.dirname(certFile)).sort(), [caFile, certFile, keyFile].map((f) => path.basename(f)).sort());
            assert.deepStrictEqual([mode(caFile), mode(certFile), mode(keyFile)], ["644", "644", "640"]);
            assert.match(log(b, "chown.log"), new RegExp(`^root:consul ${keyFile.replace(/[.]/g, "\\.")}\\.\\w{6}$`, "m"));
            assert.strictEqual(log(b, "systemctl.log"), "try-reload-or-restart consul.service nomad.service\n");
            assert.match(log(b, "aws.log"), /^ssm get-parameters --region \S+ --names \S+\/common\/ca-cert \S+\/client\/tls-cert \S+\/client\/tls-key --with-decryption --output json$/m);

            // Next day, nothing new in SSM.
            const now = { ca: statSync(caFile).ino, cert: statSync(certFile).ino, key: statSync(keyFile).ino };
            const again = renew(b, [pki.key]);
            assert.strictEqual(again.status, 0, again.stderr);
            assert.match(again.stderr, /is current/);
            assert.strictEqual(log(b, "systemctl.log"), "try-reload-or-restart consul.service nomad.service\n", "reloaded without a change");
            assert.deepStrictEqual({ ca: statSync(caFile).ino, cert: statSync(certFile).ino, key: statSync(keyFile).ino }, now);
            assert.notDeepStrictEqual(now, before);
        } finally {
            rmSync(b.root, { recursive: true, force: true });
        }
    });

    it("keeps the node's files and reloads nothing when SSM's material is missing, foreign or does not match the key", () => {
        for (const [what, material, message] of [
            ["a missing key", { ca: pki.ca, cert: pki.renewed }, /tls-key is missing or empty/],
            ["a certificate of another CA", { ...pki, cert: pki.foreign }, /is not signed by the CA/],
            ["a key of another certificate", { ...pki, cert: pki.renewed, key: pki.otherKey }, /does not belong to the certificate/],
        ] as const) {
            const b = box();
            try {
                serve(b, pki);
                assert.strictEqual(renew(b, [pki.key]).status, 0);
                writeFileSync(path.join(b.state, "systemctl.log"), "");
                serve(b, material);
                const out = renew(b, [pki.key, pki.otherKey]);
                assert.notStrictEqual(out.status, 0, what);
                assert.match(out.stderr, message, what);
                assert.strictEqual(readFileSync(b.env.get("TLS_CERT_FILE")!, "utf8"), pki.cert, what);
                assert.strictEqual(readFileSync(b.env.get("TLS_KEY_FILE")!, "utf8"), pki.key, what);
                assert.strictEqual(log(b, "systemctl.log"), "", what);
            } finally {
                rmSync(b.root, { recursive: true, force: true });
            }
        }
    });
});

describe("the renewal timer in the user data, and certificate lifetimes", () => {
    it("every node has the daily, persistent timer, its oneshot service running renew-tls.sh, and enables the timer at first boot", () => {
        for (const node of SAMPLE_NODES) {
            const userData = renderUserData(node);
            const doc = parse(userData.slice("#cloud-config\n".length), { version: "1.1" });
            const files = new Map((doc.write_files as { path: string; content: string; permissions: string }[]).map((f) => [f.path, f]));
            const timer = files.get(`${NODE_LAYOUT.systemdDir}/spin-cloud-tls-renew.timer`)!.content.split("\n");
            for (const line of ["[Timer]", "OnCalendar=daily", "Persistent=yes", "Unit=spin-cloud-tls-renew.service", "WantedBy=timers.target"]) {
                assert.ok(timer.includes(line), `${line} not in the timer`);
            }
            const service = files.get(`${NODE_LAYOUT.systemdDir}/spin-cloud-tls-renew.service`)!.content.split("\n");
            assert.ok(service.includes("Type=oneshot") && service.includes(`ExecStart=${RENEW_TLS_SCRIPT_PATH} ${NODE_LAYOUT.envFile}`), service.join("\n"));
            assert.strictEqual(files.get(RENEW_TLS_SCRIPT_PATH)!.content, readFileSync(RENEW, "utf8"));
            assert.strictEqual(files.get(RENEW_TLS_SCRIPT_PATH)!.permissions, "0755");
            assert.match(doc.runcmd[0], /systemctl enable --now --no-block .*spin-cloud-tls-renew\.timer/);
        }
    });

    it("agent certificates are renewed by `pulumi up` from 30 days before expiry, inside a CA that lives years longer", () => {
        const { caValidityHours, agentValidityHours, agentEarlyRenewalHours } = CERTIFICATE_LIFETIMES;
        assert.ok(agentEarlyRenewalHours >= 30 * 24, "renewal starts at least 30 days ahead");
        assert.ok(agentEarlyRenewalHours < agentValidityHours / 2);
        assert.ok(caValidityHours >= 5 * 365 * 24 && caValidityHours >= 5 * agentValidityHours);
        const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
        const section = /\n### Certificate renewal\n([\s\S]*?)(?=\n#{2,3} |$)/.exec(readme)?.[1];
        assert.ok(section, "README has no 'Certificate renewal' section");
        for (const phrase of [`${caValidityHours / (365 * 24)} years`, `${agentValidityHours / (365 * 24)} year`,
            `${agentEarlyRenewalHours / 24} days`, "spin-cloud-tls-renew.timer", "SIGHUP", "pulumi up"]) {
            assert.ok(section.includes(phrase), `the section does not say ${phrase}`);
        }
    });
});
