/**
 * The boot scripts: shellcheck-clean, the env file is valid `sh` that reads back every value, and
 * bootstrap.sh, run against stub `aws`/`consul`/`nomad`/`systemctl`/`curl` commands, writes exactly
 * the secret fragments and TLS files the spec asks for, sets up the ACLs idempotently and never
 * prints a secret.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { CONSUL_ACL_POLICIES } from "../provisioning/consul-acl-policies";
import { nodeEnvEntries, renderNodeEnv, shellQuote } from "../provisioning/node-env";
import { SECRET_PARAMETERS, secretParameterName } from "../provisioning/secrets";
import { NodeProvisioning } from "../provisioning/types";
import { CONSUL, HASHICORP_APT, NOMAD, SPIN } from "../provisioning/versions";
import { SAMPLE_CLIENT, SAMPLE_NODES, SAMPLE_SERVER } from "./fixtures/nodes";
import { runWithStubs, shellcheckFiles, shellcheckSources, writeStubs } from "./validators";

const SCRIPTS = path.join(__dirname, "..", "provisioning", "scripts");
const INSTALL = path.join(SCRIPTS, "install.sh");
const BOOTSTRAP = path.join(SCRIPTS, "bootstrap.sh");

describe("provisioning scripts", () => {
    it("install.sh and bootstrap.sh pass shellcheck with no finding at all", () => {
        const results = shellcheckFiles([INSTALL, BOOTSTRAP]);
        for (const [file, result] of results) {
            assert.ok(result.ok, `${file}:\n${result.output}`);
        }
    });

    it("the shellcheck helper does report findings (it would catch a bad script)", () => {
        const bad = shellcheckSources([{ name: "bad.sh", content: "#!/bin/bash\necho $1\ncd /tmp\n" }]);
        assert.strictEqual(bad.get("bad.sh")!.ok, false);
        assert.match(bad.get("bad.sh")!.output, /SC2086/);
    });

    it("the env file of every sample node is clean POSIX sh (shellcheck -s sh)", () => {
        const results = shellcheckSources(SAMPLE_NODES.map((n, i) => ({ name: `node-${i}.env`, content: renderNodeEnv(n) })), "sh");
        for (const [name, result] of results) {
            assert.ok(result.ok, `${name}:\n${result.output}`);
        }
    });

    it("sh reads back every env value exactly, quotes and all", () => {
        const tricky = { ...SAMPLE_CLIENT, cluster: { ...SAMPLE_CLIENT.cluster, clusterName: `it's "$HOME" \`x\` \\ ;` } };
        for (const node of [...SAMPLE_NODES, tricky]) {
            const entries = nodeEnvEntries(node);
            const script = `. ${shellQuote(writeTemp(renderNodeEnv(node)))}\n` + entries.map(([k]) => `printf '%s\\0' "$${k}"`).join("\n");
            const out = spawnSync("sh", ["-c", script], { encoding: "utf8" });
            assert.strictEqual(out.status, 0, out.stderr);
            assert.deepStrictEqual(out.stdout.split("\0").slice(0, -1), entries.map(([, v]) => v));
        }
    });
});

function writeTemp(content: string): string {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "spin-cloud-env-")), "node.env");
    writeFileSync(file, content);
    return file;
}

// ---------------------------------------------------------------------------------------------
// bootstrap.sh against stubs

/** Stub commands; they log to $STUB_STATE and keep the state of the fake Consul/Nomad there. */
const BOOTSTRAP_STUBS: Record<string, string> = {
    id: `echo 0`,
    chown: `printf '%s\\n' "$*" >>"$STUB_STATE/chown.log"`,
    install: `printf '%s\\n' "$*" >>"$STUB_STATE/install.log"; for a; do d=$a; done; mkdir -p "$d"`,
    systemctl: `printf '%s\\n' "$*" >>"$STUB_STATE/systemctl.log"`,
    curl: `case "$*" in *"%{http_code}"*) printf 200 ;; *status/leader*) printf '"10.0.0.1:8300"' ;; *) exit 7 ;; esac`,
    aws: `while [ $# -gt 0 ]; do [ "$1" = --path ] && p=$2; shift; done
          cat "$STUB_STATE/ssm/$(printf '%s' "$p" | tr / _).json"`,
    consul: `printf '%s|%s\\n' "$*" "\${CONSUL_HTTP_TOKEN:-}" >>"$STUB_STATE/consul.log"
          cmd="$1 $2 $3"
          for a; do case "$a" in -secret=*) secret=\${a#-secret=} ;; esac; done
          while [ $# -gt 0 ]; do [ "$1" = -name ] && name=$2; [ "$1" = -rules ] && rules=$2; shift; done
          case "$cmd" in
            "acl policy read") [ -f "$STUB_STATE/policy-$name" ] ;;
            "acl policy create") cp "\${rules#@}" "$STUB_STATE/policy-$name" ;;
            "acl token read") grep -qxF -- "$CONSUL_HTTP_TOKEN" "$STUB_STATE/tokens" 2>/dev/null ;;
            "acl token create") printf '%s\\n' "$secret" >>"$STUB_STATE/tokens" ;;
            *) exit 3 ;;
          esac`,
    nomad: `printf '%s\\n' "$*" >>"$STUB_STATE/nomad.log"
          [ "$1 $2 $3" = "acl bootstrap -" ] || exit 3
          token=$(cat); printf '%s\\n' "$token" >>"$STUB_STATE/nomad-bootstrap-input"
          if [ -f "$STUB_STATE/nomad-bootstrapped" ]; then
            echo 'Error bootstrapping: Unexpected response code: 400 (ACL bootstrap already done (reset index: 7))' >&2; exit 1
          fi
          touch "$STUB_STATE/nomad-bootstrapped"; echo "Secret ID = $token"`,
};

/** Fake secrets, one per parameter of the node's role; multi-line and quote-laden on purpose. */
function fakeSecrets(node: NodeProvisioning): Map<string, string> {
    const secrets = new Map<string, string>();
    for (const p of SECRET_PARAMETERS.filter((s) => s.scope === "common" || s.scope === node.role)) {
        const value = p.name.endsWith("-cert") || p.name === "tls-key"
            ? `-----BEGIN ${p.name}-----\nsecret-${p.name}-"quoted"-'single'\n-----END ${p.name}-----\n`
            : `00000000-secret-${p.name}-$(x)`;
        secrets.set(p.name, value);
    }
    return secrets;
}

interface Sandbox {
    readonly root: string;
    readonly state: string;
    readonly env: Map<string, string>;
    readonly secrets: Map<string, string>;
}

/** A sandbox whose env file points every on-node path below `root`. */
function sandbox(node: NodeProvisioning): Sandbox {
    const root = mkdtempSync(path.join(tmpdir(), "spin-cloud-boot-"));
    const state = path.join(root, "state");
    const bin = path.join(root, "bin");
    mkdirSync(path.join(state, "ssm"), { recursive: true });
    writeStubs(bin, BOOTSTRAP_STUBS);
    const env = new Map(nodeEnvEntries(node).map(([k, v]) => [k, /^\/(etc|opt)\//.test(v) ? root + v : v]));
    writeFileSync(path.join(root, "node.env"), [...env].map(([k, v]) => `${k}=${shellQuote(v)}`).join("\n") + "\n");
    const secrets = fakeSecrets(node);
    for (const scope of ["common", node.role] as const) {
        const params = SECRET_PARAMETERS.filter((p) => p.scope === scope).map((p) => ({
            Name: secretParameterName(node.cluster.ssmPrefix, scope, p.name),
            Value: secrets.get(p.name),
        }));
        const file = `${node.cluster.ssmPrefix}/${scope}`.replace(/\//g, "_");
        writeFileSync(path.join(state, "ssm", `${file}.json`), JSON.stringify({ Parameters: params }));
    }
    for (const dir of [env.get("CONSUL_CONFIG_DIR")!, env.get("NOMAD_CONFIG_DIR")!, env.get("CONSUL_POLICY_DIR")!]) {
        mkdirSync(dir, { recursive: true });
    }
    for (const policy of CONSUL_ACL_POLICIES) {
        writeFileSync(path.join(env.get("CONSUL_POLICY_DIR")!, `${policy.name}.json`), `{"policy":"${policy.name}"}\n`);
    }
    return { root, state, env, secrets };
}

const bootstrap = (box: Sandbox) => runWithStubs(BOOTSTRAP, [path.join(box.root, "node.env")], path.join(box.root, "bin"), { STUB_STATE: box.state });

function runBootstrap(box: Sandbox) {
    const out = bootstrap(box);
    assert.strictEqual(out.status, 0, `bootstrap.sh failed:\n${out.stderr}`);
    for (const value of box.secrets.values()) {
        assert.ok(!out.stdout.includes(value) && !out.stderr.includes(value), "a secret reached the script's output");
    }
    return out;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const log = (box: Sandbox, name: string) => (existsSync(path.join(box.state, name)) ? readFileSync(path.join(box.state, name), "utf8") : "");

describe("bootstrap.sh (against stub commands)", function () {
    this.timeout(60000);

    it("server: writes the spec'd fragments and TLS files, creates policies and tokens once, bootstraps Nomad ACLs", () => {
        const box = sandbox(SAMPLE_SERVER);
        const s = (n: string) => box.secrets.get(n)!;
        try {
            runBootstrap(box);
            assert.deepStrictEqual(readJson(box.env.get("CONSUL_SECRETS_FILE")!), {
                encrypt: s("consul-gossip-key"),
                acl: { tokens: { agent: s("consul-agent-token"), dns: s("consul-dns-token"), initial_management: s("consul-management-token") } },
            });
            assert.deepStrictEqual(readJson(box.env.get("NOMAD_SECRETS_FILE")!), {
                server: { encrypt: s("nomad-gossip-key") },
                consul: { token: s("consul-nomad-token") },
            });
            assert.strictEqual(readFileSync(box.env.get("TLS_CA_FILE")!, "utf8"), s("ca-cert"));
            assert.strictEqual(readFileSync(box.env.get("TLS_CERT_FILE")!, "utf8"), s("tls-cert"));
            assert.strictEqual(readFileSync(box.env.get("TLS_KEY_FILE")!, "utf8"), s("tls-key"));
            assert.strictEqual(mode(box.env.get("TLS_KEY_FILE")!), "640");
            assert.strictEqual(mode(box.env.get("CONSUL_SECRETS_FILE")!), "640");
            assert.strictEqual(mode(box.env.get("NOMAD_SECRETS_FILE")!), "600");
            assert.match(log(box, "chown.log"), new RegExp(`^root:consul .*agent-key\\.pem\\.`, "m"));

            for (const policy of CONSUL_ACL_POLICIES) {
                assert.ok(existsSync(path.join(box.state, `policy-${policy.name}`)), `policy ${policy.name} not created`);
            }
            const consulLog = log(box, "consul.log");
            assert.match(consulLog, /^acl policy create -name consul-agent -description .* -rules @\S+consul-agent\.json\|/m);
            for (const token of ["consul-agent-token", "consul-nomad-token", "consul-dns-token", "consul-traefik-token"] as const) {
                const policies = CONSUL_ACL_POLICIES.filter((p) => p.token === token).map((p) => `-policy-name ${p.name}`).join(" ");
                assert.ok(consulLog.includes(`acl token create -description spin-cloud ${token} ${policies} -secret=${s(token)}|${s("consul-management-token")}`), consulLog);
            }
            const tokens = [s("consul-agent-token"), s("consul-nomad-token"), s("consul-dns-token"), s("consul-traefik-token")].sort();
            assert.deepStrictEqual(log(box, "tokens").trim().split("\n").sort(), tokens);
            assert.strictEqual(log(box, "nomad-bootstrap-input"), `${s("nomad-management-token")}\n`);
            const systemd = log(box, "systemctl.log").trim().split("\n");
            assert.deepStrictEqual(systemd, [
                "reload-or-restart systemd-resolved",
                "daemon-reload",
                "enable consul.service",
                "start --no-block consul.service",
                "enable nomad.service",
                "start --no-block nomad.service",
            ]);

            // Second run (another server, or a re-run): nothing is created twice, no failure.
            runBootstrap(box);
            assert.deepStrictEqual(log(box, "tokens").trim().split("\n").sort(), tokens);
            assert.strictEqual((log(box, "consul.log").match(/^acl policy create/gm) ?? []).length, CONSUL_ACL_POLICIES.length);
            assert.strictEqual(log(box, "nomad-bootstrap-input").trim().split("\n").length, 2);
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });

    it("client: no management token, no gossip key for Nomad, no ACL setup", () => {
        const box = sandbox(SAMPLE_CLIENT);
        const s = (n: string) => box.secrets.get(n)!;
        try {
            runBootstrap(box);
            assert.deepStrictEqual(readJson(box.env.get("CONSUL_SECRETS_FILE")!), {
                encrypt: s("consul-gossip-key"),
                acl: { tokens: { agent: s("consul-agent-token"), dns: s("consul-dns-token") } },
            });
            assert.deepStrictEqual(readJson(box.env.get("NOMAD_SECRETS_FILE")!), { consul: { token: s("consul-nomad-token") } });
            assert.strictEqual(readFileSync(box.env.get("TLS_KEY_FILE")!, "utf8"), s("tls-key"));
            assert.strictEqual(log(box, "consul.log"), "");
            assert.strictEqual(log(box, "nomad.log"), "");
            assert.match(log(box, "systemctl.log"), /start --no-block nomad\.service/);
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });

    it("fails with the parameter's name when a secret is missing from SSM", () => {
        const box = sandbox(SAMPLE_CLIENT);
        try {
            const file = path.join(box.state, "ssm", `${SAMPLE_CLIENT.cluster.ssmPrefix}/client`.replace(/\//g, "_") + ".json");
            const doc = JSON.parse(readFileSync(file, "utf8"));
            doc.Parameters = doc.Parameters.filter((p: { Name: string }) => !p.Name.endsWith("/tls-key"));
            writeFileSync(file, JSON.stringify(doc));
            const out = bootstrap(box);
            assert.notStrictEqual(out.status, 0);
            assert.match(out.stderr, /SSM parameter 'tls-key' is missing/);
            assert.ok(!existsSync(box.env.get("CONSUL_SECRETS_FILE")!));
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });
});

// ---------------------------------------------------------------------------------------------
// install.sh against stubs

const INSTALL_STUBS: Record<string, string> = {
    id: `echo 0`,
    dpkg: `echo "$STUB_ARCH"`,
    lsb_release: `echo noble`,
    "apt-get": `printf '%s\\n' "$*" >>"$STUB_STATE/apt-get.log"`,
    "apt-mark": `printf '%s\\n' "$*" >>"$STUB_STATE/apt-mark.log"`,
    systemctl: `printf '%s\\n' "$*" >>"$STUB_STATE/systemctl.log"; [ "$1" != is-active ]`,
    snap: `printf '%s\\n' "$*" >>"$STUB_STATE/snap.log"
          case "$1" in list) [ -f "$STUB_STATE/snap-installed" ] ;; install) touch "$STUB_STATE/snap-installed" ;; esac`,
    aws: `echo aws-cli/2.0.0`,
    consul: `echo "Consul v0"`,
    nomad: `echo "Nomad v0"`,
    curl: `for a; do url=$a; done; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
          printf '%s\\n' "$url" >>"$STUB_STATE/curl.log"
          case "$url" in *.tar.gz) cp "$STUB_STATE/spin.tar.gz" "$out" ;; *) echo KEY >"$out" ;; esac`,
    gpg: `case "$*" in
            *--show-keys*) printf 'pub:-:255:22:X:1::::::scESC::::::::0:\\nfpr:::::::::%s:\\n' "$STUB_KEY_FINGERPRINT" ;;
            *--dearmor*) while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; echo DEARMORED >"$out" ;;
          esac`,
    install: `args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift ;; *) args+=("$1") ;; esac; shift; done
          /usr/bin/install "\${args[@]}"`,
};

interface InstallBox {
    readonly root: string;
    readonly state: string;
    readonly env: Map<string, string>;
}

function installBox(node: NodeProvisioning, overrides: Record<string, string> = {}): InstallBox {
    const root = mkdtempSync(path.join(tmpdir(), "spin-cloud-install-"));
    const state = path.join(root, "state");
    mkdirSync(state);
    writeStubs(path.join(root, "bin"), INSTALL_STUBS);
    // A fake Spin release: the tarball holds a `spin` that reports the pinned version.
    const release = path.join(root, "release");
    mkdirSync(release);
    writeFileSync(path.join(release, "spin"), `#!/bin/sh\necho "spin ${SPIN.version} (0000000 2025-01-01)"\n`, { mode: 0o755 });
    assert.strictEqual(spawnSync("tar", ["-czf", path.join(state, "spin.tar.gz"), "-C", release, "spin"]).status, 0);
    const sha = createHash("sha256").update(readFileSync(path.join(state, "spin.tar.gz"))).digest("hex");
    const env = new Map(nodeEnvEntries(node).map(([k, v]) => [k, /^\/(etc|opt|usr)\//.test(v) ? root + v : v]));
    if (env.has("SPIN_SHA256")) env.set("SPIN_SHA256", sha);
    for (const [k, v] of Object.entries(overrides)) env.set(k, v);
    for (const v of [env.get("HASHICORP_APT_KEYRING")!, env.get("HASHICORP_APT_SOURCES_LIST")!, env.get("SPIN_BINARY") ?? `${root}/x/y`]) {
        mkdirSync(path.dirname(v), { recursive: true });
    }
    writeFileSync(path.join(root, "node.env"), [...env].map(([k, v]) => `${k}=${shellQuote(v)}`).join("\n") + "\n");
    return { root, state, env };
}

function runInstall(box: InstallBox, stubEnv: Record<string, string> = {}) {
    return runWithStubs(INSTALL, [path.join(box.root, "node.env")], path.join(box.root, "bin"), {
        STUB_STATE: box.state,
        STUB_ARCH: box.env.get("DEB_ARCH")!,
        STUB_KEY_FINGERPRINT: HASHICORP_APT.keyFingerprint,
        ...stubEnv,
    });
}

const stateLog = (box: InstallBox, name: string) =>
    existsSync(path.join(box.state, name)) ? readFileSync(path.join(box.state, name), "utf8") : "";

describe("install.sh (against stub commands)", function () {
    this.timeout(60000);

    it("client: adds the signed-by repository, pins the packages, installs the AWS CLI snap and the verified Spin, once", () => {
        const box = installBox(SAMPLE_CLIENT);
        try {
            for (const run of [1, 2]) {
                const out = runInstall(box);
                assert.strictEqual(out.status, 0, `run ${run}:\n${out.stderr}`);
            }
            assert.strictEqual(
                readFileSync(box.env.get("HASHICORP_APT_SOURCES_LIST")!, "utf8"),
                `deb [arch=${box.env.get("DEB_ARCH")} signed-by=${box.env.get("HASHICORP_APT_KEYRING")}] ${HASHICORP_APT.url} noble main\n`,
            );
            assert.strictEqual(readFileSync(box.env.get("HASHICORP_APT_KEYRING")!, "utf8"), "DEARMORED\n");
            assert.match(stateLog(box, "apt-get.log"), new RegExp(`install .* consul=${CONSUL.packageVersion} nomad=${NOMAD.packageVersion}\\n`));
            assert.match(stateLog(box, "apt-mark.log"), /^hold consul nomad$/m);
            assert.strictEqual((stateLog(box, "snap.log").match(/^install aws-cli --classic$/gm) ?? []).length, 1);
            assert.match(stateLog(box, "snap.log"), /^wait system seed\.loaded$/m);
            assert.strictEqual((stateLog(box, "curl.log").match(/\.tar\.gz$/gm) ?? []).length, 1, "Spin downloaded again on re-run");
            assert.ok(stateLog(box, "curl.log").includes(box.env.get("SPIN_URL")!));
            const spin = spawnSync(box.env.get("SPIN_BINARY")!, ["--version"], { encoding: "utf8" });
            assert.match(spin.stdout, new RegExp(`^spin ${SPIN.version} `));
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });

    it("server: installs no Spin", () => {
        const box = installBox(SAMPLE_SERVER);
        try {
            const out = runInstall(box);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.doesNotMatch(stateLog(box, "curl.log"), /spin/);
            assert.match(stateLog(box, "apt-get.log"), new RegExp(`consul=${CONSUL.packageVersion} nomad=${NOMAD.packageVersion}`));
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });

    it("refuses a Spin tarball whose sha256 is not the pinned one", () => {
        const box = installBox(SAMPLE_CLIENT, { SPIN_SHA256: "0".repeat(64) });
        try {
            const out = runInstall(box);
            assert.notStrictEqual(out.status, 0);
            assert.match(out.stderr, /does not match the pinned sha256/);
            assert.ok(!existsSync(box.env.get("SPIN_BINARY")!));
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });

    it("refuses a HashiCorp key with another fingerprint, and a node of the wrong architecture", () => {
        const box = installBox(SAMPLE_CLIENT);
        try {
            const badKey = runInstall(box, { STUB_KEY_FINGERPRINT: "F".repeat(40) });
            assert.notStrictEqual(badKey.status, 0);
            assert.match(badKey.stderr, /does not have the pinned fingerprint/);
            assert.ok(!existsSync(box.env.get("HASHICORP_APT_SOURCES_LIST")!));
            const badArch = runInstall(box, { STUB_ARCH: "s390x" });
            assert.notStrictEqual(badArch.status, 0);
            assert.match(badArch.stderr, /node is s390x but was provisioned as/);
        } finally {
            rmSync(box.root, { recursive: true, force: true });
        }
    });
});
