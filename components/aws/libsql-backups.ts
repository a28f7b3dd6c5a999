/**
 * Where the platform libSQL server's continuous backup lives (docs/libsql.md "Backups"): one S3
 * bucket, encrypted with the cloud's app-data KMS key, versioned (a bad overwrite of a backup
 * object can be undone for 30 days), public access blocked, bucket-owner-enforced, TLS only; and
 * the IAM user sqld writes with. bottomless takes static keys only (bottomless/src/replicator.rs
 * `Options::from_env` builds a `Credentials::new(.., "Static")` provider, no instance profile), and
 * the nodes' metadata service is closed to tasks anyway, so the key is a Pulumi secret reaching
 * the task through the libsql job's Variable. Its policy names this bucket and nothing else.
 * The bucket is built on every AWS cloud, databases or not, and kept on destroy: it holds the
 * databases' only durable copy, so it must not go when the last app database leaves the program
 * (the server and its writer do; a database added later restores from this same bucket).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { fitName, IAM_USER_MAX, PolicyDocument } from "./app-store-iam";
import { privateBucket, tlsOnlyStatement } from "./private-bucket";

/**
 * What bottomless calls (tursodatabase/libsql libsql-server-v0.24.32 bottomless/src/replicator.rs,
 * measured against an S3 server): HeadBucket (line 329) and ListObjects v1 (generations, restore)
 * need s3:ListBucket on the bucket, which is also what makes S3 answer a missing object 404, not
 * 403 (restore reads optional `.dep`/`.tombstone` objects); GetObject, PutObject (snapshots, WAL
 * batches, metadata) and DeleteObject (a namespace deleted through the admin API) on the
 * objects, all named `ns-<database id>:<namespace>…`. CreateBucket only after a 404 HeadBucket,
 * which never happens here: not granted.
 */
export const LIBSQL_BUCKET_ACTIONS = ["s3:ListBucket"] as const;
export const LIBSQL_OBJECT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"] as const;
/** What S3 needs of the bucket's KMS key on the writer's behalf (SSE-KMS with a bucket key). */
export const LIBSQL_KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"] as const;
/** The bucket's lifecycle: noncurrent versions (overwritten or deleted backup objects) are kept this long. */
export const LIBSQL_NONCURRENT_DAYS = 30;

/** sqld's whole permission: its own objects in the backup bucket (`ns-<databaseId>:`), and the key only through S3 in `region`. */
export function libsqlBackupPolicy(bucketArn: string, kmsKeyArn: string, region: string, databaseId: string): PolicyDocument {
    if (bucketArn.includes("*")) throw new Error(`libsql backup policy: the bucket ARN must not hold wildcards (${bucketArn})`);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(databaseId)) throw new Error(`libsql backup policy: databaseId ${JSON.stringify(databaseId)} must be of [a-z0-9-]`);
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "BackupBucket", Effect: "Allow", Action: [...LIBSQL_BUCKET_ACTIONS], Resource: [bucketArn] },
            { Sid: "BackupObjects", Effect: "Allow", Action: [...LIBSQL_OBJECT_ACTIONS], Resource: [`${bucketArn}/${libsqlBackupObjectPrefix(databaseId)}*`] },
            { Sid: "BackupKeyThroughS3", Effect: "Allow", Action: [...LIBSQL_KMS_ACTIONS], Resource: [kmsKeyArn], Condition: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } } },
        ],
    };
}

/** Deny every request that is not over TLS. */
export function tlsOnlyBucketPolicy(bucketArn: string) {
    return { Version: "2012-10-17", Statement: [tlsOnlyStatement(bucketArn)] };
}

/** bottomless names every namespace's objects `ns-<database id>:<namespace>…` (sqld namespace/configurator/helpers.rs). */
export const libsqlBackupObjectPrefix = (databaseId: string): string => `ns-${databaseId}:`;

export const libsqlBackupUserName = (cluster: string): string => fitName(`${cluster}-libsql`, IAM_USER_MAX);

export interface LibsqlBackupsArgs {
    /** The cloud's app-data key (AwsAppStores.kmsKeyArn). */
    readonly kmsKeyArn: pulumi.Input<string>;
    readonly tags?: Record<string, string>;
}

/** The backup bucket. */
export class LibsqlBackups extends pulumi.ComponentResource {
    readonly bucket: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;

    constructor(name: string, args: LibsqlBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:stores:LibsqlBackups", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, "spin-cloud:role": "libsql-backups" };
        const bucket = privateBucket(`${name}-bucket`, {
            bucketPrefix: "spin-cloud-libsql-", encryption: { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn }, tags, retainOnDelete: true,
        }, this);
        new aws.s3.BucketVersioning(`${name}-bucket`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, parent);
        // Only noncurrent versions expire: the current objects are the live backup.
        new aws.s3.BucketLifecycleConfiguration(`${name}-bucket`, {
            bucket: bucket.id,
            rules: [{
                id: "noncurrent", status: "Enabled", filter: {},
                noncurrentVersionExpiration: { noncurrentDays: LIBSQL_NONCURRENT_DAYS },
                abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
            }],
        }, parent);
        new aws.s3.BucketPolicy(`${name}-bucket`, { bucket: bucket.id, policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))) }, parent);
        this.bucket = bucket.bucket;
        this.bucketArn = bucket.arn;
        this.registerOutputs({ bucket: this.bucket });
    }
}

export interface LibsqlBackupWriterArgs {
    readonly clusterName: string;
    readonly region: string;
    /** The prefix id of sqld's objects (`LIBSQL_BOTTOMLESS_DATABASE_ID`, the libsql job's `backup.databaseId`). */
    readonly databaseId: string;
    readonly bucketArn: pulumi.Input<string>;
    readonly kmsKeyArn: pulumi.Input<string>;
    readonly tags?: Record<string, string>;
}

/** The IAM user sqld writes its backups with, and its key: only while the server exists. */
export class LibsqlBackupWriter extends pulumi.ComponentResource {
    readonly accessKeyId: pulumi.Output<string>;
    /** Secret. */
    readonly secretAccessKey: pulumi.Output<string>;

    constructor(name: string, args: LibsqlBackupWriterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:stores:LibsqlBackupWriter", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, "spin-cloud:role": "libsql-backups" };
        const user = new aws.iam.User(name, { name: libsqlBackupUserName(args.clusterName), path: `/spin-cloud/${args.clusterName}/`, tags }, parent);
        new aws.iam.UserPolicy(name, {
            user: user.name,
            policy: pulumi.all([args.bucketArn, args.kmsKeyArn]).apply(([arn, key]) => JSON.stringify(libsqlBackupPolicy(arn, key, args.region, args.databaseId))),
        }, parent);
        const key = new aws.iam.AccessKey(name, { user: user.name }, { ...parent, additionalSecretOutputs: ["secret"] });
        this.accessKeyId = key.id;
        this.secretAccessKey = pulumi.secret(key.secret);
        this.registerOutputs({});
    }
}
