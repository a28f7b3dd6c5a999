/** The platform libSQL server on AWS under mocks: its backup bucket, its writer, its Variables (components/aws/libsql-backups.ts, components/platform/libsql-server.ts). */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { AwsAppStores } from "../../components/aws/app-stores";
import { LIBSQL_BUCKET_ACTIONS, LIBSQL_KMS_ACTIONS, LIBSQL_OBJECT_ACTIONS, libsqlBackupPolicy, libsqlBackupUserName } from "../../components/aws/libsql-backups";
import { nomadProvider } from "../../components/nomad";
import { LibsqlDatabaseRef, libsqlPublicKeyPem } from "../../provisioning/jobs/libsql-databases";
import { LIBSQL_VARIABLES } from "../../provisioning/jobs/libsql-job";
import { evaluateStack, isSecretInput, lastRegistered, MockRun, ofType, unwrapSecrets } from "../harness/mocks";

const ARGS = { clusterName: "spin-cloud-dev", region: "eu-west-1", deletionProtection: false };

async function evaluate(databases: readonly LibsqlDatabaseRef[], seen?: (type: string, name: string, retainOnDelete?: boolean) => void): Promise<MockRun> {
    return evaluateStack("dev", () => {
        if (seen) pulumi.runtime.registerStackTransformation((a) => { seen(a.type, a.name, a.opts.retainOnDelete); return undefined; });
        const nomad = { provider: nomadProvider("nomad", { address: "https://nomad.test:4646", caPem: "ca", secretId: "t" }), leader: new pulumi.ComponentResource("test:index:Leader", "leader", {}) };
        new AwsAppStores("app-stores", { ...ARGS, libsql: { databases, nomad, datacenter: "dc1", architecture: "x86_64" } });
        return {};
    });
}

const one = (r: MockRun, type: string) => {
    const all = ofType(r, type);
    assert.equal(all.length, 1, `one ${type}`);
    return all[0];
};

describe("platform libSQL server on AWS", () => {
    it("keeps the backup bucket on a cloud without databases, so it outlives the last one; the server and its writer come with databases", async () => {
        const none = await evaluate([]);
        const withOne = await evaluate([{ app: "shop", label: "orders" }]);
        for (const r of [none, withOne]) assert.deepEqual(ofType(r, "aws:s3/bucket:Bucket").map((b) => b.urn), ofType(withOne, "aws:s3/bucket:Bucket").map((b) => b.urn));
        for (const type of ["aws:iam/user:User", "aws:iam/accessKey:AccessKey", "nomad:index/job:Job", "nomad:index/variable:Variable", "spin-cloud:platform:LibsqlServer"]) {
            assert.deepEqual(ofType(none, type), [], type);
            assert.equal(ofType(withOne, type).length > 0, true, type);
        }
        const kept = new Set(ofType(withOne, "aws:s3/bucketVersioning:BucketVersioning").concat(ofType(withOne, "aws:s3/bucketPolicy:BucketPolicy")).map((x) => x.urn));
        assert.deepEqual(new Set(ofType(none, "aws:s3/bucketVersioning:BucketVersioning").concat(ofType(none, "aws:s3/bucketPolicy:BucketPolicy")).map((x) => x.urn)), kept,
            "removing the last database deletes none of the bucket's settings");
    });

    it("keeps the backups in a private, versioned, KMS-encrypted, TLS-only bucket that outlives a destroy", async () => {
        const retained: Record<string, boolean | undefined> = {};
        const r = await evaluate([{ app: "shop", label: "orders" }], (type, name, retain) => { if (type.startsWith("aws:s3/")) retained[`${type} ${name}`] = retain; });
        assert.equal(retained["aws:s3/bucket:Bucket app-stores-libsql-bucket"], true, "the bucket is retainOnDelete");
        const bucket = one(r, "aws:s3/bucket:Bucket");
        // The provider appends 26 characters to a prefix; S3 allows 63.
        assert.ok(String(bucket.inputs.bucketPrefix).length + 26 <= 63);
        assert.equal(bucket.inputs.forceDestroy, false);
        const key = one(r, "aws:kms/key:Key");
        const sse = one(r, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration");
        assert.deepEqual(sse.inputs.rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key.state.arn }, bucketKeyEnabled: true }]);
        assert.deepEqual(one(r, "aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration, { status: "Enabled" });
        const block = one(r, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
        for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.equal(block[k], true, k);
        const [rule] = one(r, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules as { expiration?: unknown; noncurrentVersionExpiration?: unknown }[];
        assert.equal(rule.expiration, undefined, "current objects (the live backup) never expire");
        assert.deepEqual(rule.noncurrentVersionExpiration, { noncurrentDays: 30 });
        const policy = JSON.parse(String(one(r, "aws:s3/bucketPolicy:BucketPolicy").inputs.policy));
        assert.deepEqual(policy.Statement[0].Condition, { Bool: { "aws:SecureTransport": "false" } });
        assert.equal(policy.Statement[0].Effect, "Deny");
    });

    it("gives sqld a writer whose policy names only the backup bucket, the key only through S3", async () => {
        const r = await evaluate([{ app: "shop", label: "orders" }]);
        const bucket = one(r, "aws:s3/bucket:Bucket");
        const user = one(r, "aws:iam/user:User");
        assert.equal(user.inputs.name, libsqlBackupUserName("spin-cloud-dev"));
        assert.ok(libsqlBackupUserName("x".repeat(80)).length <= 64);
        const doc = JSON.parse(String(one(r, "aws:iam/userPolicy:UserPolicy").inputs.policy));
        assert.deepEqual(doc, libsqlBackupPolicy(String(bucket.state.arn), String(one(r, "aws:kms/key:Key").state.arn), "eu-west-1", "spin-cloud-dev"));
        assert.deepEqual(doc.Statement.map((s: { Resource: string[] }) => s.Resource), [[bucket.state.arn], [`${bucket.state.arn}/ns-spin-cloud-dev:*`], [one(r, "aws:kms/key:Key").state.arn]]);
        assert.deepEqual(doc.Statement.map((s: { Action: string[] }) => s.Action), [[...LIBSQL_BUCKET_ACTIONS], [...LIBSQL_OBJECT_ACTIONS], [...LIBSQL_KMS_ACTIONS]]);
        assert.ok(!JSON.stringify(doc).includes("s3:*") && !JSON.stringify(doc).includes("CreateBucket"));
        assert.throws(() => libsqlBackupPolicy("arn:aws:s3:::*", "k", "eu-west-1", "x"), /must not hold wildcards/);
        assert.throws(() => libsqlBackupPolicy("arn:aws:s3:::b", "k", "eu-west-1", "x*"), /databaseId "x\*" must be of/);
    });

    it("hands the writer's key and the admin key to the job through its two Variables, as secrets; none in the jobspec, which holds the verifying key", async () => {
        const r = await evaluate([{ app: "shop", label: "orders" }, { app: "blog", label: "default" }]);
        const variables = ofType(r, "nomad:index/variable:Variable");
        const shared = variables.find((v) => v.inputs.path === LIBSQL_VARIABLES.shared.path)!;
        const server = variables.find((v) => v.inputs.path === LIBSQL_VARIABLES.server.path)!;
        for (const v of [shared, server]) assert.ok(isSecretInput(v.inputs.items), String(v.inputs.path));
        const sharedItems = unwrapSecrets(shared.inputs.items) as Record<string, string>;
        const serverItems = unwrapSecrets(server.inputs.items) as Record<string, string>;
        assert.equal(sharedItems.namespaces, "blog-default\nshop-orders\n");
        assert.deepEqual(Object.keys(serverItems).sort(), ["backup_access_key_id", "backup_bucket", "backup_secret_access_key"]);
        assert.equal(serverItems.backup_bucket, one(r, "aws:s3/bucket:Bucket").state.bucket);
        assert.match(serverItems.backup_access_key_id, /^AKIA/);
        const jobspec = String(one(r, "nomad:index/job:Job").inputs.jobspec);
        for (const value of [sharedItems.admin_key, serverItems.backup_secret_access_key, serverItems.backup_access_key_id]) {
            assert.ok(value.length > 10 && !jobspec.includes(value), "no secret in the jobspec");
        }
        assert.deepEqual(JSON.parse(jobspec).Job.TaskGroups[0].Services[0].Tags, ["blog-default", "shop-orders"]);
        const seed = String(one(r, "random:index/randomBytes:RandomBytes").state.base64);
        assert.ok(jobspec.includes(JSON.stringify(libsqlPublicKeyPem(seed)).slice(1, -1)), "the public key is in the jobspec");
    });

    it("refuses more namespaces than one Nomad Variable holds (64 KiB), before the server registers", async () => {
        const many = Array.from({ length: 2000 }, (_, i) => ({ app: `app${String(i).padStart(4, "0")}x`, label: "database_with_a_long_name" }));
        await assert.rejects(evaluate(many), /LibsqlServer databases: 2000 namespaces take \d+ bytes; one Nomad Variable holds at most 60000 of them/);
        const server = ["spin-cloud:platform:LibsqlServer", "random:index/randomBytes:RandomBytes", "random:index/randomPassword:RandomPassword", "nomad:index/variable:Variable", "nomad:index/job:Job"];
        assert.deepEqual(lastRegistered().filter((r) => server.includes(r.type)), [], "nothing of the server");
    });
});
