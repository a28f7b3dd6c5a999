/**
 * The platform libSQL server's signing keys under mocks (components/platform/libsql-server.ts):
 * one seed per generation, the current and the previous one registered, sqld's key file (a
 * literal of the job) holding both public keys, the apps' tokens signed with the newest.
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { LibsqlServer, libsqlSigningKeyGenerations, libsqlSigningKeyName } from "../../components/platform/libsql-server";
import { nomadProvider } from "../../components/nomad";
import { spinCloudProgram } from "../../components/program";
import { libsqlPublicKeyPem } from "../../provisioning/jobs/libsql-databases";
import { LIBSQL_TEMPLATE_PATHS, LIBSQL_VARIABLES } from "../../provisioning/jobs/libsql-job";
import { libsqlTokenItem } from "../../provisioning/jobs/spin-runtime-config";
import { evaluateStack, isSecretInput, MockRun, ofType, unwrapSecrets } from "../harness/mocks";
import { LIBSQL_APP } from "../harness/shipped-stacks";

const SEEDS = "random:index/randomBytes:RandomBytes";

async function evaluate(signingKeyGeneration?: number): Promise<MockRun> {
    return evaluateStack("dev", () => {
        const nomad = { provider: nomadProvider("nomad", { address: "https://nomad.test:4646", caPem: "ca", secretId: "t" }), leader: new pulumi.ComponentResource("test:index:Leader", "leader", {}) };
        const server = new LibsqlServer("libsql", {
            nomad, datacenter: "dc1", architecture: "x86_64", databases: [{ app: "shop", label: "orders" }],
            backup: { bucket: "bucket", region: "eu-west-1", accessKeyId: "AKIAMOCK", secretAccessKey: pulumi.secret("s3-secret") },
            backupId: "spin-cloud-dev", signingKeyGeneration,
        });
        return { token: server.database("shop", "orders").token };
    });
}

/** The seed (base64) of each registered generation's RandomBytes, by resource name. */
const seedsOf = (r: MockRun) => Object.fromEntries(ofType(r, SEEDS).map((s) => [s.name, String(s.state.base64)]));
const jobOf = (r: MockRun) => {
    const [job] = ofType(r, "nomad:index/job:Job");
    return { resource: job, spec: JSON.parse(String(job.inputs.jobspec)).Job };
};
const keyFileOf = (r: MockRun): string => {
    const sqld = jobOf(r).spec.TaskGroups[0].Tasks[0] as { Templates: { DestPath: string; EmbeddedTmpl: string }[] };
    return sqld.Templates.find((t) => t.DestPath === LIBSQL_TEMPLATE_PATHS.jwtKeys)!.EmbeddedTmpl;
};

/** True when `token` (a JWT) carries a valid Ed25519 signature by the key of `seed`. */
function signedBy(token: string, seed: string): boolean {
    const [header, payload, signature] = token.split(".");
    return crypto.verify(null, Buffer.from(`${header}.${payload}`), crypto.createPublicKey(libsqlPublicKeyPem(seed)), Buffer.from(signature, "base64url"));
}

describe("platform libSQL server signing keys", () => {
    it("registers one seed under the name it always had at generation 1 (the default), the current and the previous at generation 3", async () => {
        const [unset, one, three] = [await evaluate(), await evaluate(1), await evaluate(3)];
        for (const r of [unset, one]) assert.deepEqual(ofType(r, SEEDS).map((s) => s.name), ["libsql-signing-key"]);
        assert.deepEqual(ofType(three, SEEDS).map((s) => s.name).sort(), ["libsql-signing-key-2", "libsql-signing-key-3"]);
        for (const s of ofType(three, SEEDS)) assert.equal(s.inputs.length, 32);
        assert.equal(libsqlSigningKeyName("libsql", 1), "libsql-signing-key");
        assert.deepEqual(libsqlSigningKeyGenerations(2), [2, 1]);
    });

    it("gives sqld the public key of every registered seed in its key file (both at generation 2, one at 1); tokens are signed with the newest", async () => {
        const one = await evaluate(1);
        const two = await evaluate(2);
        const seeds1 = seedsOf(one);
        const seeds2 = seedsOf(two);
        assert.equal(keyFileOf(one), libsqlPublicKeyPem(seeds1["libsql-signing-key"]));
        assert.equal(keyFileOf(two), libsqlPublicKeyPem(seeds2["libsql-signing-key-2"]) + libsqlPublicKeyPem(seeds2["libsql-signing-key"]));
        assert.equal(keyFileOf(two).match(/-----BEGIN PUBLIC KEY-----/g)?.length, 2);
        // The previous key is the same seed resource at both generations: tokens signed with it stay valid.
        assert.equal(seeds2["libsql-signing-key"], seeds1["libsql-signing-key"]);
        const token1 = unwrapSecrets(one.outputs.token) as string;
        const token2 = unwrapSecrets(two.outputs.token) as string;
        assert.ok(signedBy(token1, seeds1["libsql-signing-key"]));
        assert.ok(signedBy(token2, seeds2["libsql-signing-key-2"]), "the apps get tokens of the new key");
        assert.ok(!signedBy(token2, seeds2["libsql-signing-key"]));
        assert.notEqual(token2, token1, "a bump changes every token (the apps roll: their secrets digest)");
    });

    it("keeps the public keys out of the server Variable and the seeds out of the jobspec, which is not a secret (its diff stays readable)", async () => {
        const r = await evaluate(2);
        const server = ofType(r, "nomad:index/variable:Variable").find((v) => v.inputs.path === LIBSQL_VARIABLES.server.path)!;
        const items = unwrapSecrets(server.inputs.items) as Record<string, string>;
        assert.deepEqual(Object.keys(items).sort(), Object.values(LIBSQL_VARIABLES.server.items).sort());
        assert.ok(!JSON.stringify(items).includes("PUBLIC KEY"), "no public key in the server Variable");
        const { resource } = jobOf(r);
        assert.ok(!isSecretInput(resource.inputs.jobspec), "the jobspec is plain");
        const jobspec = String(resource.inputs.jobspec);
        for (const seed of Object.values(seedsOf(r))) {
            assert.ok(!jobspec.includes(seed) && !jobspec.includes(Buffer.from(seed, "base64").toString("hex")), "no seed in the jobspec");
        }
        assert.ok(r.secretValues.some((v) => Object.values(seedsOf(r)).includes(v)), "the seeds are secrets of the mock provider");
    });

    it("refuses a generation that is not an integer of 1 or more, before anything registers", () => {
        for (const bad of [0, -1, 1.5, Number.NaN]) {
            assert.throws(() => libsqlSigningKeyGenerations(bad), /LibsqlServer signingKeyGeneration is .*; must be an integer of 1 or more/);
        }
    });

    it("takes the generation from the stack setting through SpinCloud: the app's token in its store Variable is signed with the new key", async () => {
        const r = await evaluateStack("dev", () => spinCloudProgram({ apps: [LIBSQL_APP] }), { config: { libsqlSigningKeyGeneration: "2" } });
        const seeds = ofType(r, SEEDS).filter((s) => /-libsql-signing-key(-\d+)?$/.test(s.name));
        assert.deepEqual(seeds.map((s) => s.name.replace(/^.*-libsql-/, "")).sort(), ["signing-key", "signing-key-2"]);
        const newest = String(seeds.find((s) => s.name.endsWith("-2"))!.state.base64);
        const store = ofType(r, "nomad:index/variable:Variable").find((v) => v.name === `${LIBSQL_APP.name}-stores`)!;
        const token = (unwrapSecrets(store.inputs.items) as Record<string, string>)[libsqlTokenItem("default")];
        assert.ok(signedBy(token, newest));
    });
});
