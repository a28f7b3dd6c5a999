/**
 * The boot scripts: shellcheck-clean, the env file is valid `sh` that reads back every value, and
 * bootstrap.sh, run against stub `aws`/`consul`/`nomad`/`systemctl`/`curl` commands, writes exactly
 * the secret fragments and TLS files the spec asks for, sets up the ACLs idempotently and never
 * prints a secret.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { CONSUL_ACL_POLICIES } from "../../provisioning/agents/consul-acl-policies";
import { nodeEnvEntries, renderNodeEnv } from "../../provisioning/aws/node-env";
import { shellQuote } from "../../provisioning/shell-quote";
import { CONSUL, HASHICORP_APT, NOMAD, SPIN } from "../../provisioning/versions";
import { SAMPLE_CLIENT, SAMPLE_NODES, SAMPLE_SERVER } from "../fixtures/nodes";
import {
    BOOTSTRAP, bootstrap, fileMode, INSTALL, installBox, readJson, runBootstrap, runInstall, sandbox, stateLog,
} from "../harness/script-sandbox";
import { shellcheckFiles, shellcheckSources } from "../harness/validators";

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
// bootstrap.sh against stubs (test/harness/script-sandbox.ts)

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
            assert.strictEqual(fileMode(box.env.get("TLS_KEY_FILE")!), "640");
            assert.strictEqual(fileMode(box.env.get("CONSUL_SECRETS_FILE")!), "640");
            assert.strictEqual(fileMode(box.env.get("NOMAD_SECRETS_FILE")!), "600");
            assert.match(stateLog(box, "chown.log"), new RegExp(`^root:consul .*agent-key\\.pem\\.`, "m"));

            for (const policy of CONSUL_ACL_POLICIES) {
                assert.ok(existsSync(path.join(box.state, `policy-${policy.name}`)), `policy ${policy.name} not created`);
            }
            const consulLog = stateLog(box, "consul.log");
            assert.match(consulLog, /^acl policy create -name consul-agent -description .* -rules @\S+consul-agent\.json\|/m);
            for (const token of ["consul-agent-token", "consul-nomad-token", "consul-dns-token", "consul-traefik-token"] as const) {
                const policies = CONSUL_ACL_POLICIES.filter((p) => p.token === token).map((p) => `-policy-name ${p.name}`).join(" ");
                assert.ok(consulLog.includes(`acl token create -description spin-cloud ${token} ${policies} -secret=${s(token)}|${s("consul-management-token")}`), consulLog);
            }
            const tokens = [s("consul-agent-token"), s("consul-nomad-token"), s("consul-dns-token"), s("consul-traefik-token")].sort();
            assert.deepStrictEqual(stateLog(box, "tokens").trim().split("\n").sort(), tokens);
            assert.strictEqual(stateLog(box, "nomad-bootstrap-input"), `${s("nomad-management-token")}\n`);
            const systemd = stateLog(box, "systemctl.log").trim().split("\n");
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
            assert.deepStrictEqual(stateLog(box, "tokens").trim().split("\n").sort(), tokens);
            assert.strictEqual((stateLog(box, "consul.log").match(/^acl policy create/gm) ?? []).length, CONSUL_ACL_POLICIES.length);
            assert.strictEqual(stateLog(box, "nomad-bootstrap-input").trim().split("\n").length, 2);
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
            assert.strictEqual(stateLog(box, "consul.log"), "");
            assert.strictEqual(stateLog(box, "nomad.log"), "");
            assert.match(stateLog(box, "systemctl.log"), /start --no-block nomad\.service/);
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
// install.sh against stubs (test/harness/script-sandbox.ts)

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
