/**
 * The IMDS guard (provisioning/aws/imds-guard.ts) as every node's user data carries it: the nft
 * ruleset lets only root and consul reach 169.254.169.254, is valid for `nft -c` and, loaded in a
 * network namespace of its own, really refuses other uids; it loads before Nomad, which requires
 * it; and the README's security section states the boundary.
 */
import { BINDLE_USER } from "../../provisioning/jobs/bindle-task";
import * as assert from "assert";
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { renderUserData } from "../../provisioning/aws/cloud-init";
import { IMDS_GUARD_FILE, IMDS_GUARD_UNIT_NAME, IMDS_IPV4, IMDS_IPV6, imdsGuardTable, renderNftRuleset } from "../../provisioning/aws/imds-guard";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { SAMPLE_NODES } from "../fixtures/nodes";

/** write_files of a node's user data, by path (the document is plain inside EC2's gzip). */
function written(userData: string): Map<string, string> {
    const doc = parse(userData.slice("#cloud-config\n".length), { version: "1.1" });
    return new Map((doc.write_files as { path: string; content: string }[]).map((f) => [f.path, f.content]));
}

const RENDERED = SAMPLE_NODES.map((node) => ({ node, userData: renderUserData(node), files: written(renderUserData(node)) }));
const RULESET = RENDERED[0].files.get(IMDS_GUARD_FILE)!;

/** The rules of one chain of the rendered ruleset, whitespace-normalised. */
function chainRules(ruleset: string, chain: string): string[] {
    const body = new RegExp(`chain ${chain} \\{\\n([\\s\\S]*?)\\n\\s*\\}`).exec(ruleset)?.[1];
    assert.ok(body, `no chain ${chain} in\n${ruleset}`);
    return body.split("\n").map((l) => l.trim().replace(/\s+/g, " ")).filter(Boolean);
}

const nftInstalled = () => spawnSync("sh", ["-c", "command -v nft"]).status === 0;

/** Skips visibly without nft on a developer's machine; under CI (.ci/run installs it) fails. */
function needNft(ctx: Mocha.Context): void {
    if (nftInstalled()) return;
    assert.notStrictEqual(process.env.CI, "true", "nft is not installed: .ci/run must install nftables");
    process.stderr.write("      skipping: nft is not installed (apt-get install nftables)\n");
    ctx.skip();
}

/** A passwd file like a node's: this machine's users plus the consul package's system user. */
function nodePasswd(dir: string): string {
    const file = path.join(dir, "passwd");
    const own = readFileSync("/etc/passwd", "utf8").split("\n").filter((l) => l && !l.startsWith("consul:"));
    writeFileSync(file, [...own, "consul:x:998:998::/opt/consul:/usr/sbin/nologin", ""].join("\n"));
    return file;
}

/**
 * Runs `script` with sh in new mount and network namespaces (and a user namespace with root mapped,
 * when `userNs`) where /etc/passwd
 * is `passwd`: nft resolves "consul" as on a node, and nothing touches this machine's ruleset.
 */
function inNamespaces(script: string, passwd: string, userNs: boolean) {
    const args = [...(userNs ? ["-r"] : []), "-m", "-n", "sh", "-c", `mount --bind "$1" /etc/passwd && ${script}`, "sh", passwd];
    return spawnSync("unshare", args, { encoding: "utf8", timeout: 30000 });
}

describe("IMDS guard in the user data", function () {
    this.timeout(60000);

    it("every node writes the ruleset: only uid 0 and consul reach IMDS on output, nothing is forwarded to it", () => {
        for (const { node, files } of RENDERED) {
            assert.strictEqual(files.get(IMDS_GUARD_FILE), RULESET, node.role);
        }
        assert.match(RULESET, /^table inet spin_cloud_imds\ndelete table inet spin_cloud_imds\ntable inet spin_cloud_imds \{$/m);
        assert.deepStrictEqual(chainRules(RULESET, "output"), [
            "type filter hook output priority filter; policy accept;",
            `ip daddr ${IMDS_IPV4} meta skuid { 0, "consul" } accept`,
            `ip daddr ${IMDS_IPV4} meta l4proto tcp counter reject with tcp reset`,
            `ip daddr ${IMDS_IPV4} counter reject`,
            `ip6 daddr ${IMDS_IPV6} meta skuid { 0, "consul" } accept`,
            `ip6 daddr ${IMDS_IPV6} meta l4proto tcp counter reject with tcp reset`,
            `ip6 daddr ${IMDS_IPV6} counter reject`,
        ]);
        assert.deepStrictEqual(chainRules(RULESET, "forward"), [
            "type filter hook forward priority filter; policy accept;",
            `ip daddr ${IMDS_IPV4} counter drop`,
            `ip6 daddr ${IMDS_IPV6} counter drop`,
        ]);
    });

    it("loads it before the agents, Nomad requires it, and the first boot enables it after install.sh", () => {
        for (const { node, userData, files } of RENDERED) {
            const unit = files.get(`${NODE_LAYOUT.systemdDir}/${IMDS_GUARD_UNIT_NAME}`)!.split("\n");
            for (const line of ["Type=oneshot", "RemainAfterExit=yes", `ExecStart=/usr/sbin/nft -f ${IMDS_GUARD_FILE}`,
                "Before=nomad.service", "Before=consul.service", "After=nftables.service", "WantedBy=multi-user.target"]) {
                assert.ok(unit.includes(line), `${node.role}: ${line} not in the guard unit`);
            }
            assert.ok(!unit.some((l) => l.startsWith("ExecStop")), "stopping the guard must not open IMDS");
            const nomad = files.get(`${NODE_LAYOUT.systemdDir}/nomad.service`)!.split("\n");
            assert.ok(nomad.includes(`Requires=${IMDS_GUARD_UNIT_NAME}`) && nomad.includes(`After=${IMDS_GUARD_UNIT_NAME}`), nomad.join("\n"));
            const runcmd: string = parse(userData.slice("#cloud-config\n".length), { version: "1.1" }).runcmd[0];
            assert.ok(runcmd.indexOf("install.sh") < runcmd.indexOf(IMDS_GUARD_UNIT_NAME) && runcmd.includes("systemctl enable --now"), runcmd);
        }
    });

    it("the serializer refuses a token nft would read differently", () => {
        const table = imdsGuardTable();
        const bad = { ...table, chains: [{ ...table.chains[0], rules: [["ip", "daddr", "1.2.3.4;", "flush", "ruleset"]] }] };
        assert.throws(() => renderNftRuleset(bad), /nft token: "1\.2\.3\.4;" is not allowed/);
        assert.throws(() => renderNftRuleset({ ...table, name: "x y" }), /nft table name/);
    });

    it("is valid for `nft -c` (and nft -c does reject a broken ruleset)", function () {
        needNft(this);
        const dir = mkdtempSync(path.join(tmpdir(), "spin-cloud-nft-"));
        try {
            const passwd = nodePasswd(dir);
            writeFileSync(path.join(dir, "guard.nft"), RULESET);
            writeFileSync(path.join(dir, "broken.nft"), RULESET.replace("skuid", "skuidd"));
            // Root needs no user namespace (and may be the only one allowed to make one).
            const userNs = process.getuid?.() !== 0;
            const ok = inNamespaces(`nft -c -f ${dir}/guard.nft`, passwd, userNs);
            assert.strictEqual(ok.status, 0, `nft -c:\n${ok.stderr}${ok.error ?? ""}`);
            const broken = inNamespaces(`nft -c -f ${dir}/broken.nft`, passwd, userNs);
            assert.notStrictEqual(broken.status, 0, "nft -c accepted a broken ruleset");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("loaded in a network namespace, lets root and consul connect to IMDS and refuses nobody and uid 8085 (Bindle)", function () {
        needNft(this);
        if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v setpriv && command -v ip"]).status !== 0) {
            process.stderr.write("      skipping: needs root, setpriv and ip to switch uids in a network namespace\n");
            this.skip();
        }
        const dir = mkdtempSync(path.join(tmpdir(), "spin-cloud-nft-"));
        try {
            const passwd = nodePasswd(dir);
            writeFileSync(path.join(dir, "guard.nft"), RULESET);
            // A stand-in metadata service on IMDS's address, inside the namespace only. The probes
            // connect from 127.0.0.1, as a node's calls come from its own address: the reset must
            // not itself be addressed to IMDS.
            const probe = `const s=require("net").connect({port:8080,host:"${IMDS_IPV4}",localAddress:"127.0.0.1"});s.on("data",()=>{console.log("reached");process.exit(0)});` +
                `s.on("error",(e)=>{console.log("refused");process.exit(0)});setTimeout(()=>{console.log("timeout");process.exit(0)},3000)`;
            const as = (uid: number) => `setpriv --reuid=${uid} --regid=${uid} --clear-groups node -e '${probe}'`;
            const script = [
                "set -e", "ip link set lo up", `ip addr add ${IMDS_IPV4}/32 dev lo`, `nft -f ${dir}/guard.nft`,
                `node -e 'require("net").createServer((c)=>c.end("ok")).listen(8080,"${IMDS_IPV4}")' & server=$!`, "sleep 1",
                as(0), as(998), as(65534), as(BINDLE_USER.uid), "kill $server",
            ].join("\n");
            const out = inNamespaces(script, passwd, false);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.deepStrictEqual(out.stdout.trim().split("\n"), ["reached", "reached", "refused", "refused"]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("README: the workload/credential boundary", () => {
    const readme = readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

    it("says who can reach the metadata service, why, and what clients may read from SSM", () => {
        const section = /\n### Workloads and the nodes' credentials\n([\s\S]*?)(?=\n#{2,3} |$)/.exec(readme)?.[1];
        assert.ok(section, "README has no 'Workloads and the nodes' credentials' section");
        for (const phrase of [IMDS_IPV4, "root", "consul", "nobody", "`bindle`", "network_mode", "hop limit", IMDS_GUARD_UNIT_NAME,
            "forward", "server/", "PARAMETER_ARN"]) {
            assert.ok(section.includes(phrase), `the section does not mention ${phrase}`);
        }
    });
});
