/**
 * What Nomad clients need for the Bindle server: the `bindle` system user with fixed ids (no
 * docker: Bindle runs under exec), and the EFS-backed host volume (the NFS client, an fstab line, a bounded mount, owner and
 * mode) before Nomad starts. The scripts run against the stub commands of
 * test/harness/script-sandbox.ts.
 */
import * as assert from "assert";
import { readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { gunzipSync } from "zlib";
import { parse } from "yaml";
import { NOMAD_SHARED_VOLUME_DROP_IN, nodeFiles, USER_DATA_BUDGET_BYTES, USER_DATA_LIMIT_BYTES } from "../../provisioning/aws/cloud-init";
import { BINDLE_CLIENT_REQUIREMENTS } from "../../provisioning/jobs/bindle-job";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { nodeEnvEntries, resolveSharedVolume } from "../../provisioning/aws/node-env";
import { nomadAgentConfig, renderNomadAgentConfig } from "../../provisioning/agents/nomad-config";
import { ClientNode, NodeProvisioning } from "../../provisioning/types";
import { SAMPLE_CLIENT, SAMPLE_LOCAL_CLIENT, SAMPLE_SERVER } from "../fixtures/nodes";
import { ofType } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";
import {
    bootstrap, FAKE_EFS_ADDRESS, FAKE_FSTAB, fileMode, INSTALL, installBox, runBootstrap, runInstall, sandbox, Sandbox, stateLog,
} from "../harness/script-sandbox";
import { cloudInitSchema } from "../harness/validators";

/** AWS's fstab options for EFS over plain NFS (EFS user guide, nfs-automount-efs.html), verbatim. */
const AWS_EFS_FSTAB_OPTIONS = "nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev";

const envOf = (node: NodeProvisioning) => new Map(nodeEnvEntries(node));
const SHARED_KEYS = ["SHARED_VOLUME_PATH", "SHARED_VOLUME_ADDRESS_PARAMETER", "SHARED_VOLUME_MOUNT_OPTIONS",
    "SHARED_VOLUME_MOUNT_TIMEOUT", "SHARED_VOLUME_UID", "SHARED_VOLUME_GID", "SHARED_VOLUME_MODE", "FSTAB_FILE"];

/** The env file's entries that are about packages and the shared volume. */
function volumeEntries(node: NodeProvisioning): Record<string, string> {
    return Object.fromEntries([...envOf(node)].filter(([k]) => k.startsWith("NODE_APT") || k.startsWith("NODE_SYSTEM_") || k === "NODE_SERVICES" || SHARED_KEYS.includes(k)));
}

function withBox<T>(box: { readonly root: string }, body: () => T): T {
    try {
        return body();
    } finally {
        rmSync(box.root, { recursive: true, force: true });
    }
}

describe("client env file: the Bindle user and the shared volume", () => {
    it("a client with a shared volume gets the NFS client, the bindle user and every mount parameter", () => {
        assert.deepStrictEqual(volumeEntries(SAMPLE_CLIENT), {
            NODE_APT_PACKAGES: "nfs-common",
            NODE_SYSTEM_USER: "bindle",
            NODE_SYSTEM_UID: "8085",
            NODE_SYSTEM_GID: "8085",
            SHARED_VOLUME_PATH: "/srv/bindle",
            SHARED_VOLUME_ADDRESS_PARAMETER: "bindle-efs-address",
            SHARED_VOLUME_MOUNT_OPTIONS: AWS_EFS_FSTAB_OPTIONS,
            SHARED_VOLUME_MOUNT_TIMEOUT: "300",
            SHARED_VOLUME_UID: "8085",
            SHARED_VOLUME_GID: "8085",
            SHARED_VOLUME_MODE: "0750",
            FSTAB_FILE: "/etc/fstab",
        });
    });

    it("a client without one gets the bindle user and no package; a server neither; nobody gets docker", () => {
        assert.deepStrictEqual(volumeEntries(SAMPLE_LOCAL_CLIENT), {
            NODE_APT_PACKAGES: "", NODE_SYSTEM_USER: "bindle", NODE_SYSTEM_UID: "8085", NODE_SYSTEM_GID: "8085",
        });
        assert.deepStrictEqual(volumeEntries(SAMPLE_SERVER), {});
        for (const node of [SAMPLE_CLIENT, SAMPLE_LOCAL_CLIENT, SAMPLE_SERVER]) {
            assert.doesNotMatch([...envOf(node).values()].join("\n"), /docker/);
        }
    });

    it("takes the user from BINDLE_CLIENT_REQUIREMENTS, the owner the shared volume gets", () => {
        const user = BINDLE_CLIENT_REQUIREMENTS.systemUser;
        const env = envOf(SAMPLE_CLIENT);
        assert.deepStrictEqual([env.get("NODE_SYSTEM_USER"), env.get("NODE_SYSTEM_UID"), env.get("NODE_SYSTEM_GID")], [user.name, String(user.uid), String(user.gid)]);
        assert.deepStrictEqual([env.get("SHARED_VOLUME_UID"), env.get("SHARED_VOLUME_GID")], [String(user.uid), String(user.gid)]);
    });

    it("rejects a shared volume that names no host volume, or would not fit fstab, SSM or chmod", () => {
        const shared = SAMPLE_CLIENT.sharedVolume!;
        const bad = (patch: Partial<ClientNode>) => () => resolveSharedVolume({ ...SAMPLE_CLIENT, ...patch });
        assert.throws(bad({ sharedVolume: { ...shared, hostVolume: "other" } }), /shared volume "other": is not one of the client's host volumes/);
        assert.throws(bad({ hostVolumes: [{ name: "bindle-data", path: "/srv/my data", readOnly: false }] }), /path "\/srv\/my data" is not an absolute path/);
        assert.throws(bad({ hostVolumes: [{ name: "bindle-data", path: "srv/bindle", readOnly: false }] }), /is not an absolute path/);
        assert.throws(bad({ sharedVolume: { ...shared, addressParameter: "client/x" } }), /address parameter "client\/x" is not one SSM name segment/);
        assert.throws(bad({ sharedVolume: { ...shared, uid: -1 } }), /uid must be a non-negative integer, got -1/);
        assert.throws(bad({ sharedVolume: { ...shared, gid: 1.5 } }), /gid must be a non-negative integer, got 1.5/);
        assert.throws(bad({ sharedVolume: { ...shared, mode: "rwx" } }), /mode must be octal like "0750", got "rwx"/);
        assert.throws(() => nodeEnvEntries({ ...SAMPLE_CLIENT, sharedVolume: { ...shared, mode: "0958" } }), /mode must be octal/);
        assert.deepStrictEqual(resolveSharedVolume(SAMPLE_CLIENT), { ...shared, path: "/srv/bindle" });
        assert.strictEqual(resolveSharedVolume(SAMPLE_LOCAL_CLIENT), undefined);
    });
});

describe("Nomad client config: no docker plugin", () => {
    it("clients configure exec only (Spin apps and Bindle run under it); servers no plugin", () => {
        for (const client of [SAMPLE_CLIENT, SAMPLE_LOCAL_CLIENT]) {
            const rendered = JSON.parse(renderNomadAgentConfig(client));
            assert.deepStrictEqual(rendered.plugin.map((p: object) => Object.keys(p)[0]), ["exec"]);
        }
        assert.strictEqual(nomadAgentConfig(SAMPLE_SERVER).plugin, undefined);
    });
});

describe("install.sh: the NFS client and the bindle user (against stub commands)", function () {
    this.timeout(60000);
    const installs = (box: { readonly state: string }) => stateLog(box, "apt-get.log").split("\n").filter((l) => / install /.test(` ${l}`));

    it("a client with a shared volume installs nfs-common and creates the bindle user once, over two runs", () => {
        const box = installBox(SAMPLE_CLIENT);
        withBox(box, () => {
            for (const run of [1, 2]) {
                const out = runInstall(box);
                assert.strictEqual(out.status, 0, `run ${run}:\n${out.stderr}`);
            }
            const node = installs(box).filter((l) => /docker\.io|nfs-common/.test(l));
            assert.deepStrictEqual(node, Array(2).fill("-o DPkg::Lock::Timeout=600 install -y -q nfs-common"));
            assert.strictEqual(stateLog(box, "groupadd.log"), "--system --gid 8085 bindle\n");
            assert.strictEqual(stateLog(box, "useradd.log"), "--system --uid 8085 --gid 8085 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bindle\n");
            assert.doesNotMatch(stateLog(box, "systemctl.log"), /docker/);
        });
    });

    it("stops when a bindle user or group with other ids exists (the shared store would get two owners)", () => {
        for (const [file, line, message] of [
            ["passwd", "bindle:x:1001:8085::/home/bindle:/bin/bash\n", /user bindle exists without uid:gid 8085:8085/],
            ["group", "bindle:x:999:\n", /group bindle exists without gid 8085/],
        ] as const) {
            const box = installBox(SAMPLE_CLIENT);
            withBox(box, () => {
                if (file === "passwd") writeFileSync(path.join(box.state, "group"), "bindle:x:8085:\n");
                writeFileSync(path.join(box.state, file), line);
                const out = runInstall(box);
                assert.notStrictEqual(out.status, 0);
                assert.match(out.stderr, message);
                assert.strictEqual(stateLog(box, "useradd.log"), "");
            });
        }
    });

    it("a client without a shared volume installs no package; a server creates no user", () => {
        const local = installBox(SAMPLE_LOCAL_CLIENT);
        withBox(local, () => {
            const out = runInstall(local);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.doesNotMatch(stateLog(local, "apt-get.log"), /nfs-common|docker/);
            assert.match(stateLog(local, "useradd.log"), /bindle$/m);
        });
        const server = installBox(SAMPLE_SERVER);
        withBox(server, () => {
            const out = runInstall(server);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.doesNotMatch(stateLog(server, "apt-get.log"), /docker|nfs-common/);
            assert.strictEqual(stateLog(server, "useradd.log"), "");
        });
    });

    it("installs exactly what the env file lists: no package or user name is in the script", () => {
        const box = installBox(SAMPLE_CLIENT, { NODE_APT_PACKAGES: "pkg-a pkg-b", NODE_SYSTEM_USER: "svc", NODE_SYSTEM_UID: "7001", NODE_SYSTEM_GID: "7002" });
        withBox(box, () => {
            const out = runInstall(box);
            assert.strictEqual(out.status, 0, out.stderr);
            assert.ok(installs(box).includes("-o DPkg::Lock::Timeout=600 install -y -q pkg-a pkg-b"), stateLog(box, "apt-get.log"));
            assert.doesNotMatch(stateLog(box, "apt-get.log"), /docker|nfs/);
            assert.match(stateLog(box, "useradd.log"), /^--system --uid 7001 --gid 7002 .* svc$/m);
        });
        assert.doesNotMatch(readFileSync(INSTALL, "utf8"), /docker\.io|nfs-common|\bbindle\b|8085/);
    });
});

describe("bootstrap.sh: the shared volume (against stub commands)", function () {
    this.timeout(60000);
    const expectedLine = `${FAKE_EFS_ADDRESS}:/ {path} nfs4 ${AWS_EFS_FSTAB_OPTIONS} 0 0`;
    const mountPoint = (box: Sandbox) => box.env.get("SHARED_VOLUME_PATH")!;
    const fstab = (box: Sandbox) => readFileSync(box.env.get("FSTAB_FILE")!, "utf8");
    const calls = (box: Sandbox) => stateLog(box, "calls.log").trim().split("\n");
    const nomadStarted = (box: Sandbox) => calls(box).includes("systemctl start --no-block nomad.service");

    it("adds the fstab line once across two runs, mounts before Nomad starts, then sets owner and mode", () => {
        const box = sandbox(SAMPLE_CLIENT);
        withBox(box, () => {
            const first = runBootstrap(box);
            const line = expectedLine.replace("{path}", mountPoint(box));
            assert.strictEqual(fstab(box), `${FAKE_FSTAB}${line}\n`);
            assert.strictEqual(fileMode(box.env.get("FSTAB_FILE")!), "644");
            assert.deepStrictEqual(stateLog(box, "mount.log"), `${mountPoint(box)}\n`);
            const order = calls(box);
            assert.ok(order.indexOf(`mount ${mountPoint(box)}`) < order.indexOf("systemctl start --no-block nomad.service"), order.join("\n"));
            // The sandbox's directory is not owned by 8085, so the one-time recursive chown runs.
            assert.match(stateLog(box, "chown.log"), new RegExp(`^-R 8085:8085 ${mountPoint(box)}$`, "m"));
            assert.strictEqual(fileMode(mountPoint(box)), "750");
            assert.match(first.stderr, new RegExp(`mounted ${FAKE_EFS_ADDRESS.replace(/\./g, "\\.")}:/ at `));

            // Second run: the line is there and the volume mounted, so neither is done again.
            runBootstrap(box);
            assert.strictEqual(fstab(box), `${FAKE_FSTAB}${line}\n`);
            assert.strictEqual(stateLog(box, "mount.log"), `${mountPoint(box)}\n`, "mounted again");
            assert.strictEqual((stateLog(box, "chown.log").match(/etc\/fstab\./g) ?? []).length, 1, "fstab rewritten without a change");
            assert.strictEqual((stateLog(box, "chown.log").match(/^-R 8085:8085 /gm) ?? []).length, 2, "the stub chown changes nothing, so each run sees a foreign owner");
        });
    });

    it("replaces a stale entry for the mount point and keeps every other line", () => {
        const box = sandbox(SAMPLE_CLIENT);
        withBox(box, () => {
            const stale = `fs-old.efs.eu-west-1.amazonaws.com:/ ${mountPoint(box)} nfs4 defaults 0 0\n`;
            const comment = `# ${mountPoint(box)} was here\n`;
            writeFileSync(box.env.get("FSTAB_FILE")!, FAKE_FSTAB + stale + comment);
            runBootstrap(box);
            assert.strictEqual(fstab(box), `${FAKE_FSTAB}${comment}${expectedLine.replace("{path}", mountPoint(box))}\n`);
        });
    });

    it("keeps trying while the mount target does not answer, sleeping between attempts", () => {
        const box = sandbox(SAMPLE_CLIENT);
        withBox(box, () => {
            writeFileSync(path.join(box.state, "mount-failures"), "2");
            runBootstrap(box);
            assert.strictEqual(stateLog(box, "mount.log").trim().split("\n").length, 3);
            assert.ok(stateLog(box, "sleep.log").split("\n").filter((l) => l === "5").length >= 2);
            assert.strictEqual(fileMode(mountPoint(box)), "750");
        });
    });

    it("gives up after SHARED_VOLUME_MOUNT_TIMEOUT with a clear error, before Nomad starts", () => {
        const box = sandbox(SAMPLE_CLIENT, { env: { SHARED_VOLUME_MOUNT_TIMEOUT: "0" } });
        withBox(box, () => {
            writeFileSync(path.join(box.state, "mount-failures"), "99");
            const out = bootstrap(box);
            assert.notStrictEqual(out.status, 0);
            assert.match(out.stderr, new RegExp(`ERROR: timed out after 0s waiting for the NFS mount of ${FAKE_EFS_ADDRESS.replace(/\./g, "\\.")}:/ at ${mountPoint(box)}`));
            assert.ok(!nomadStarted(box));
            assert.strictEqual(stateLog(box, "chown.log").includes("1000:1000"), false);
        });
    });

    it("fails naming the parameter when the EFS address is missing, and touches nothing", () => {
        const box = sandbox(SAMPLE_CLIENT, { parameters: { "bindle-efs-address": undefined } });
        withBox(box, () => {
            const out = bootstrap(box);
            assert.notStrictEqual(out.status, 0);
            assert.match(out.stderr, /ERROR: SSM parameter '\/spin-cloud\/test\/client\/bindle-efs-address' \(NFS server of \S+\/srv\/bindle\) is missing or not a DNS name/);
            assert.strictEqual(fstab(box), FAKE_FSTAB);
            assert.strictEqual(stateLog(box, "mount.log"), "");
            assert.ok(!nomadStarted(box));
        });
    });

    it("refuses an address that is not a DNS name instead of writing it into fstab", () => {
        for (const address of ["", "evil /etc nfs4 rw 0 0\nfs", "fs-1.efs.example.com:/x"]) {
            const box = sandbox(SAMPLE_CLIENT, { parameters: { "bindle-efs-address": address } });
            withBox(box, () => {
                const out = bootstrap(box);
                assert.notStrictEqual(out.status, 0, JSON.stringify(address));
                assert.match(out.stderr, /bindle-efs-address' .* is missing or not a DNS name/);
                assert.strictEqual(fstab(box), FAKE_FSTAB);
            });
        }
    });

    it("a client without a shared volume mounts nothing", () => {
        const box = sandbox(SAMPLE_LOCAL_CLIENT);
        withBox(box, () => {
            runBootstrap(box);
            assert.strictEqual(stateLog(box, "mount.log"), "");
            assert.ok(nomadStarted(box));
        });
    });
});

/** write_files of a user-data document, decoded, keyed by path. */
function writtenFiles(userData: string): Map<string, string> {
    const doc = parse(userData.slice("#cloud-config\n".length), { version: "1.1" });
    return new Map((doc.write_files as { path: string; encoding?: string; content: string }[]).map((e) => [
        e.path,
        e.encoding === "gz+b64" ? gunzipSync(Buffer.from(e.content, "base64")).toString("utf8") : e.content,
    ]));
}

describe("user data: the shared volume", function () {
    this.timeout(60000);

    it("orders nomad.service after the shared volume's mount only on clients that have one", () => {
        const dropIn = (node: NodeProvisioning) => nodeFiles(node).find((f) => f.path === NOMAD_SHARED_VOLUME_DROP_IN);
        assert.strictEqual(NOMAD_SHARED_VOLUME_DROP_IN, `${NODE_LAYOUT.systemdDir}/nomad.service.d/shared-volume.conf`);
        assert.deepStrictEqual(dropIn(SAMPLE_CLIENT), {
            path: NOMAD_SHARED_VOLUME_DROP_IN, content: "[Unit]\nRequiresMountsFor=/srv/bindle\n", permissions: "0644",
        });
        assert.strictEqual(dropIn(SAMPLE_LOCAL_CLIENT), undefined);
        assert.strictEqual(dropIn(SAMPLE_SERVER), undefined);
    });

    it("SpinCloud's clients mount Bindle's EFS volume: their launch template's user data says so and is valid", async () => {
        const r = await shippedStack("dev");
        const [template] = ofType(r, "aws:ec2/launchTemplate:LaunchTemplate");
        const userData = gunzipSync(Buffer.from(template.inputs.userData as string, "base64")).toString("utf8");
        const env = writtenFiles(userData).get(NODE_LAYOUT.envFile)!;
        for (const line of [
            "NODE_APT_PACKAGES='nfs-common'",
            "SHARED_VOLUME_PATH='/srv/bindle'",
            "SHARED_VOLUME_ADDRESS_PARAMETER='bindle-efs-address'",
            "SHARED_VOLUME_UID='8085'",
            "SHARED_VOLUME_GID='8085'",
            "SHARED_VOLUME_MODE='0750'",
        ]) {
            assert.ok(env.split("\n").includes(line), `${line} not in\n${env}`);
        }
        const size = Buffer.from(template.inputs.userData as string, "base64").length;
        console.log(`      SpinCloud client user data: ${size} bytes gzipped`);
        assert.ok(size <= USER_DATA_BUDGET_BYTES && USER_DATA_BUDGET_BYTES < USER_DATA_LIMIT_BYTES, `${size} bytes`);
        const schema = cloudInitSchema(userData);
        assert.ok(schema.ok, schema.output);
    });
});
