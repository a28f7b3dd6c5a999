/**
 * EC2 user data of every sample node: valid cloud-config (`cloud-init schema`), under EC2's limit,
 * deterministic, every script shellcheck-clean, every JSON file parseable, and the content what
 * the renderers and versions.ts say it is.
 */
import * as assert from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { gunzipSync } from "zlib";
import { parse } from "yaml";
import {
    BOOTSTRAP_SCRIPT_PATH,
    cloudConfig,
    gzipBase64,
    INSTALL_SCRIPT_PATH,
    RENEW_TLS_SCRIPT_PATH,
    renderUserData,
    renderUserDataGzip,
    serializeCloudConfig,
    USER_DATA_BUDGET_BYTES,
    USER_DATA_LIMIT_BYTES,
} from "../../provisioning/aws/cloud-init";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../provisioning/agents/consul-acl-policies";
import { renderConsulAgentConfig } from "../../provisioning/agents/consul-config";
import { renderIni } from "../../provisioning/aws/ini";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { nodeEnvEntries, renderNodeEnv } from "../../provisioning/aws/node-env";
import { renderNomadAgentConfig } from "../../provisioning/agents/nomad-config";
import { renderResolvedDropIn } from "../../provisioning/aws/resolved";
import { bootDeadlineUnits, bootstrapUnit, consulUnit, nomadUnit, renderUnit, tlsRenewUnits } from "../../provisioning/aws/systemd-units";
import { IMDS_GUARD_FILE, imdsGuardTable, imdsGuardUnit, renderNftRuleset } from "../../provisioning/aws/imds-guard";
import { NodeProvisioning } from "../../provisioning/types";
import { CONSUL, NOMAD, SPIN, spinArtifact } from "../../provisioning/versions";
import { SAMPLE_CLIENT, SAMPLE_NODES, SAMPLE_SERVER } from "../fixtures/nodes";
import { cloudInitSchema, shellcheckSources } from "../harness/validators";

interface Written {
    readonly permissions: string;
    readonly content: string;
}

/** write_files of a user-data document, decoded, keyed by path. */
function writtenFiles(userData: string): Map<string, Written> {
    const doc = parse(userData.slice("#cloud-config\n".length), { version: "1.1" });
    const files = new Map<string, Written>();
    for (const entry of doc.write_files) {
        assert.ok(!files.has(entry.path), `${entry.path} written twice`);
        const content = entry.encoding === "gz+b64"
            ? gunzipSync(Buffer.from(entry.content, "base64")).toString("utf8")
            : (assert.strictEqual(entry.encoding, undefined), entry.content);
        files.set(entry.path, { permissions: entry.permissions, content });
    }
    return files;
}

function envOf(node: NodeProvisioning): Map<string, string> {
    return new Map(nodeEnvEntries(node));
}

const label = (n: NodeProvisioning) => `${n.role}/${n.architecture}`;
const SCRIPTS = path.join(__dirname, "..", "..", "provisioning", "aws", "scripts");

describe("user data", function () {
    this.timeout(30000);
    const rendered = SAMPLE_NODES.map((node) => ({ node, userData: renderUserData(node) }));

    it("passes `cloud-init schema` for every sample node", () => {
        for (const { node, userData } of rendered) {
            const result = cloudInitSchema(userData);
            assert.ok(result.ok, `${label(node)}: ${result.output}`);
        }
    });

    it("the schema helper rejects an invalid document (it would catch bad user data)", () => {
        assert.strictEqual(cloudInitSchema("#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 644\n").ok, false);
        assert.strictEqual(cloudInitSchema("write_files: []\n").ok, false);
    });

    it("is a #cloud-config with exactly write_files and a runcmd that runs install.sh then starts the retried bootstrap unit", () => {
        for (const { userData } of rendered) {
            assert.ok(userData.startsWith("#cloud-config\n"));
            const doc = parse(userData.slice("#cloud-config\n".length), { version: "1.1" });
            assert.deepStrictEqual(Object.keys(doc), ["write_files", "runcmd"]);
            assert.deepStrictEqual(doc.runcmd, [
                `'${INSTALL_SCRIPT_PATH}' '${NODE_LAYOUT.envFile}' && systemctl daemon-reload && ` +
                "systemctl enable --now --no-block spin-cloud-imds-guard.service spin-cloud-bootstrap.service spin-cloud-boot-deadline.timer " +
                "spin-cloud-tls-renew.timer",
            ]);
            const units = writtenFiles(userData);
            const bootstrapUnit = units.get("/etc/systemd/system/spin-cloud-bootstrap.service")!.content;
            for (const line of ["[Unit]", "StartLimitIntervalSec=0", "[Service]", "Type=oneshot", "RemainAfterExit=yes",
                `ExecStart=${BOOTSTRAP_SCRIPT_PATH} ${NODE_LAYOUT.envFile}`, "Restart=on-failure", "RestartSec=30", "WantedBy=multi-user.target"]) {
                assert.ok(bootstrapUnit.split("\n").includes(line), `${line} not in\n${bootstrapUnit}`);
            }
            const timer = units.get("/etc/systemd/system/spin-cloud-boot-deadline.timer")!.content;
            assert.ok(timer.includes("OnBootSec=45min") && timer.includes("Unit=spin-cloud-boot-deadline.service"), timer);
            const deadline = units.get("/etc/systemd/system/spin-cloud-boot-deadline.service")!.content;
            assert.ok(deadline.includes(`ExecStart=/opt/spin-cloud/bin/boot-deadline.sh ${NODE_LAYOUT.envFile}`), deadline);
            assert.ok(units.get("/etc/systemd/system/consul.service")!.content.includes("TimeoutStartSec=infinity"));
        }
    });

    it(`gives EC2 the document gzipped, within the ${USER_DATA_BUDGET_BYTES}-byte budget (EC2 allows ${USER_DATA_LIMIT_BYTES})`, () => {
        assert.strictEqual(USER_DATA_BUDGET_BYTES, 12 * 1024);
        for (const { node, userData } of rendered) {
            const gz = renderUserDataGzip(node);
            console.log(`      ${label(node)}: ${gz.length} bytes gzipped (${Buffer.byteLength(userData, "utf8")} plain)`);
            assert.ok(gz.length <= USER_DATA_BUDGET_BYTES, `${label(node)}: ${gz.length} bytes`);
            assert.strictEqual(gunzipSync(gz).toString("utf8"), userData);
            assert.strictEqual(gz[9], 3, "gzip OS byte fixed");
        }
    });

    it("refuses user data over the budget, naming the growth path", () => {
        const extra = Array.from({ length: 400 }, (_, i) => ({ name: `v${i}-${(i * 7919).toString(36)}`, path: `/srv/${i}-${(i * 104729).toString(36)}`, readOnly: false }));
        const huge = { ...SAMPLE_CLIENT, hostVolumes: [...(SAMPLE_CLIENT.role === "client" ? SAMPLE_CLIENT.hostVolumes ?? [] : []), ...extra] };
        assert.throws(() => renderUserDataGzip(huge as NodeProvisioning), /bytes gzipped, over the budget of 12288 .*fetch the largest files from SSM or S3/);
    });

    it("writes the files plain inside the document (the outer gzip compresses them)", () => {
        for (const { node, userData } of rendered) {
            assert.strictEqual(userData, serializeCloudConfig(cloudConfig(node, false)), label(node));
            const entries = parse(userData.slice("#cloud-config\n".length), { version: "1.1" }).write_files as { encoding?: string }[];
            assert.ok(entries.every((e) => e.encoding === undefined), label(node));
        }
    });

    it("is byte-identical for equal inputs, and gzip output does not depend on the platform", () => {
        for (const { node, userData } of rendered) {
            assert.strictEqual(renderUserData(JSON.parse(JSON.stringify(node))), userData);
        }
        const gz = Buffer.from(gzipBase64("x"), "base64");
        assert.strictEqual(gz[9], 3, "gzip OS byte");
        assert.strictEqual(gz.readUInt32LE(4), 0, "gzip MTIME");
    });

    it("every script in write_files passes shellcheck, the env file as POSIX sh", () => {
        const scripts = rendered.flatMap(({ node, userData }) =>
            [...writtenFiles(userData)]
                .filter(([, f]) => f.content.startsWith("#!"))
                .map(([p, f]) => ({ name: `${label(node)}:${p}`, content: f.content })),
        );
        assert.strictEqual(scripts.length, 4 * rendered.length);
        for (const [name, result] of shellcheckSources(scripts)) {
            assert.ok(result.ok, `${name}\n${result.output}`);
        }
        const envs = rendered.map(({ node, userData }) => ({ name: label(node), content: writtenFiles(userData).get(NODE_LAYOUT.envFile)!.content }));
        for (const [name, result] of shellcheckSources(envs, "sh")) {
            assert.ok(result.ok, `${name}\n${result.output}`);
        }
    });

    it("every JSON file in write_files parses", () => {
        for (const { node, userData } of rendered) {
            const json = [...writtenFiles(userData)].filter(([p]) => p.endsWith(".json"));
            assert.ok(json.length >= 2, label(node));
            for (const [p, f] of json) {
                assert.doesNotThrow(() => JSON.parse(f.content), `${label(node)}: ${p}`);
            }
        }
    });

    it("writes exactly the rendered files, scripts executable and everything else 0644", () => {
        for (const { node, userData } of rendered) {
            const expected = new Map<string, string>([
                [NODE_LAYOUT.envFile, renderNodeEnv(node)],
                [INSTALL_SCRIPT_PATH, readFileSync(path.join(SCRIPTS, "install.sh"), "utf8")],
                [BOOTSTRAP_SCRIPT_PATH, readFileSync(path.join(SCRIPTS, "bootstrap.sh"), "utf8")],
                ["/opt/spin-cloud/bin/boot-deadline.sh", readFileSync(path.join(SCRIPTS, "boot-deadline.sh"), "utf8")],
                [RENEW_TLS_SCRIPT_PATH, readFileSync(path.join(SCRIPTS, "renew-tls.sh"), "utf8")],
                [IMDS_GUARD_FILE, renderNftRuleset(imdsGuardTable())],
                [NODE_LAYOUT.consul.configFile, renderConsulAgentConfig(node)],
                [NODE_LAYOUT.nomad.configFile, renderNomadAgentConfig(node)],
                ...(node.role === "server"
                    ? CONSUL_ACL_POLICIES.map((p) => [`${NODE_LAYOUT.consul.policyDir}/${p.name}.json`, renderConsulPolicyRules(p)] as [string, string])
                    : []),
                [`${NODE_LAYOUT.systemdDir}/consul.service`, renderUnit(consulUnit())],
                [`${NODE_LAYOUT.systemdDir}/nomad.service`, renderUnit(nomadUnit())],
                ...[imdsGuardUnit(), bootstrapUnit(BOOTSTRAP_SCRIPT_PATH, NODE_LAYOUT.envFile), ...bootDeadlineUnits("/opt/spin-cloud/bin/boot-deadline.sh", NODE_LAYOUT.envFile),
                    ...tlsRenewUnits(RENEW_TLS_SCRIPT_PATH, NODE_LAYOUT.envFile)]
                    .map((u) => [u.path, renderUnit(u)] as [string, string]),
                [NODE_LAYOUT.resolvedDropIn, renderResolvedDropIn()],
                ...(node.role === "client" && node.sharedVolume
                    ? [[`${NODE_LAYOUT.systemdDir}/nomad.service.d/shared-volume.conf`, "[Unit]\nRequiresMountsFor=/srv/bindle\n"] as [string, string]]
                    : []),
            ]);
            const files = writtenFiles(userData);
            assert.deepStrictEqual([...files.keys()].sort(), [...expected.keys()].sort(), label(node));
            for (const [p, content] of expected) {
                assert.strictEqual(files.get(p)!.content, content, `${label(node)}: ${p}`);
                const exec = p === INSTALL_SCRIPT_PATH || p === BOOTSTRAP_SCRIPT_PATH || p === RENEW_TLS_SCRIPT_PATH || p.endsWith("/boot-deadline.sh");
                assert.strictEqual(files.get(p)!.permissions, exec ? "0755" : "0644", p);
            }
        }
    });

    it("holds no secret: no private key, no token, only SSM paths", () => {
        for (const { userData } of rendered) {
            const text = [...writtenFiles(userData).values()].map((f) => f.content).join("\n");
            assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/);
            assert.doesNotMatch(text, /"(encrypt|token|initial_management|agent)"\s*:/);
        }
    });
});

describe("node env: server vs client, versions", () => {
    it("pins the Consul and Nomad packages from versions.ts on every node", () => {
        for (const node of SAMPLE_NODES) {
            const env = envOf(node);
            assert.strictEqual(env.get("CONSUL_PACKAGE_VERSION"), CONSUL.packageVersion);
            assert.strictEqual(env.get("NOMAD_PACKAGE_VERSION"), NOMAD.packageVersion);
            assert.strictEqual(env.get("SPIN_CLOUD_ROLE"), node.role);
            assert.strictEqual(env.get("DEB_ARCH"), node.architecture === "arm64" ? "arm64" : "amd64");
            assert.strictEqual(env.get("SSM_PATH_ROLE"), `${node.cluster.ssmPrefix}/${node.role}`);
        }
        assert.match(CONSUL.packageVersion, /^\d+\.\d+\.\d+-1$/);
        assert.strictEqual(NOMAD.packageVersion, `${NOMAD.version}-1`);
    });

    it("installs Spin only on clients, with the tarball and sha256 of the node's architecture", () => {
        const install = readFileSync(path.join(SCRIPTS, "install.sh"), "utf8");
        assert.match(install, /client\) install_spin; create_system_user ;;/);
        assert.match(install, /sha256sum -c/);
        assert.ok(!envOf(SAMPLE_SERVER).has("SPIN_URL"));
        for (const node of SAMPLE_NODES.filter((n) => n.role === "client")) {
            const env = envOf(node);
            assert.strictEqual(env.get("SPIN_VERSION"), SPIN.version);
            assert.strictEqual(env.get("SPIN_URL"), spinArtifact(node.architecture).url);
            assert.strictEqual(env.get("SPIN_SHA256"), spinArtifact(node.architecture).sha256);
            assert.match(env.get("SPIN_SHA256")!, /^[0-9a-f]{64}$/);
            assert.match(env.get("SPIN_URL")!, node.architecture === "arm64" ? /linux-aarch64\.tar\.gz$/ : /linux-amd64\.tar\.gz$/);
            assert.strictEqual(env.get("SPIN_BINARY"), NODE_LAYOUT.spin.binary);
        }
    });

    it("gives servers, not clients, the Consul ACL policies and their tokens", () => {
        const server = envOf(SAMPLE_SERVER);
        assert.strictEqual(server.get("CONSUL_ACL_POLICY_COUNT"), String(CONSUL_ACL_POLICIES.length));
        CONSUL_ACL_POLICIES.forEach((p, i) => {
            assert.strictEqual(server.get(`CONSUL_ACL_POLICY_${i}_NAME`), p.name);
            assert.strictEqual(server.get(`CONSUL_ACL_POLICY_${i}_TOKEN`), p.token);
        });
        assert.ok(![...envOf(SAMPLE_CLIENT).keys()].some((k) => k.startsWith("CONSUL_ACL_POLICY")));
        assert.ok(envOf(SAMPLE_SERVER).get("SSM_SECRET_NAMES")!.split(" ").includes("consul-management-token"));
        assert.ok(!envOf(SAMPLE_CLIENT).get("SSM_SECRET_NAMES")!.split(" ").includes("consul-management-token"));
    });
});

describe("systemd units and resolved drop-in", () => {
    const field = (text: string, key: string) => text.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

    it("consul.service: notify, runs as consul on our config dir, restarts, reloads with HUP", () => {
        const unit = renderUnit(consulUnit());
        assert.deepStrictEqual(field(unit, "Type"), ["notify"]);
        assert.deepStrictEqual(field(unit, "User"), [NODE_LAYOUT.consul.user]);
        assert.deepStrictEqual(field(unit, "ExecStart"), [`/usr/bin/consul agent -config-dir=${NODE_LAYOUT.consul.configDir}`]);
        assert.deepStrictEqual(field(unit, "ExecReload"), ["/bin/kill -HUP $MAINPID"]);
        assert.deepStrictEqual(field(unit, "Restart"), ["on-failure"]);
        assert.deepStrictEqual(field(unit, "LimitNOFILE"), ["65536"]);
        assert.deepStrictEqual(field(unit, "Wants"), ["network-online.target"]);
        assert.deepStrictEqual(field(unit, "After"), ["network-online.target"]);
        assert.deepStrictEqual(field(unit, "WantedBy"), ["multi-user.target"]);
    });

    it("nomad.service: KillMode=process, after and wanting Consul, on our config dir", () => {
        const unit = renderUnit(nomadUnit());
        assert.deepStrictEqual(field(unit, "KillMode"), ["process"]);
        assert.deepStrictEqual(field(unit, "Wants"), ["network-online.target", "consul.service"]);
        assert.deepStrictEqual(field(unit, "After"), ["network-online.target", "consul.service", "spin-cloud-imds-guard.service"]);
        assert.deepStrictEqual(field(unit, "Requires"), ["spin-cloud-imds-guard.service"]);
        assert.deepStrictEqual(field(unit, "ExecStart"), [`/usr/bin/nomad agent -config=${NODE_LAYOUT.nomad.configDir}`]);
        assert.deepStrictEqual(field(unit, "ExecReload"), ["/bin/kill -HUP $MAINPID"]);
        assert.deepStrictEqual(field(unit, "Restart"), ["on-failure"]);
        assert.deepStrictEqual(field(unit, "LimitNOFILE"), ["65536"]);
        assert.ok(unit.startsWith("[Unit]\n") && unit.includes("\n\n[Service]\n") && unit.endsWith("\n\n[Install]\nWantedBy=multi-user.target\n"));
    });

    it("resolved drop-in forwards ~consul to 127.0.0.1:8600 without DNSSEC", () => {
        assert.strictEqual(renderResolvedDropIn(), "[Resolve]\nDNS=127.0.0.1:8600\nDNSSEC=false\nDomains=~consul\n");
    });

    it("renderIni is ordered, repeats list keys and refuses what would not round-trip", () => {
        assert.strictEqual(renderIni({ A: { x: "1", y: ["2", "3"] }, B: {} }), "[A]\nx=1\ny=2\ny=3\n\n[B]\n");
        assert.strictEqual(renderIni({}), "");
        assert.throws(() => renderIni({ A: { x: "a\nb" } }), /line break/);
        assert.throws(() => renderIni({ A: { "x y": "1" } }), /invalid key/);
        assert.throws(() => renderIni({ "A]": {} }), /invalid section/);
    });
});
