/**
 * S3 buckets: every bucket of the stack has its public access blocked and a declared default
 * encryption; the libSQL backup bucket (components/aws/libsql-backups.ts, tagged
 * `spin-cloud:role=libsql-backups`) is versioned, KMS-encrypted with a customer key and never
 * expires its current objects; and no IAM grant reaches every bucket or grants `s3:*`.
 *
 * The bucket settings are separate resources naming the bucket in `bucket` (its id, which is its
 * name): during preview that id is unknown and the engine's property dependencies say which bucket
 * each came from (lib/stack.ts `referencedBy`). A bucket's own deprecated inline blocks are not
 * read: after `pulumi up` its `serverSideEncryptionConfiguration` output always shows the AWS
 * default (SSE-S3), declared or not.
 */
import { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { grantsService, hasWildcard, isEveryServiceAction, namesEveryBucket, policyStatements, PolicyStatement, UNKNOWN_STRING } from "../lib/iam-policy";
import { asArray, asNumber, asRecord, asString, describeResource, isTrue, peek, Props } from "../lib/props";
import { referencedBy, roleOf } from "../lib/stack";
import { ATTACHMENTS, described, documents, GRANT_TYPES, only, ROLE } from "./stores";

export const BUCKET_TYPES = ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"];
const PUBLIC_ACCESS_BLOCK = ["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"];
const ENCRYPTION = [
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
];
const VERSIONING = ["aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"];
const LIFECYCLE = [
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
];
/** The `spin-cloud:role` of the bucket holding the libSQL server's backups. */
export const LIBSQL_BACKUPS_ROLE = "libsql-backups";
const BLOCK_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;
/** A bucket's `id` is its name; `bucket` is the name output (a literal name may be given either way). */
const BUCKET_KEYS = ["id", "bucket"];

/** The settings resources of `types` that name `bucket` in their `bucket` input. */
function settingsOf(bucket: PolicyResource, all: readonly PolicyResource[], types: readonly string[]): PolicyResource[] {
    return all.filter((r) => types.includes(r.type) && referencedBy(r, "bucket", all, BUCKET_TYPES, BUCKET_KEYS).some((b) => b.urn === bucket.urn));
}

const label = (r: PolicyResource) => `${r.type.split(":").pop()} '${r.name}'`;

export const s3PublicAccessBlocked: StackValidationPolicy = {
    name: "s3-bucket-public-access-blocked",
    description: "Every S3 bucket has a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const fix = "Set all four of blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets to true.";
        for (const bucket of args.resources.filter((r) => BUCKET_TYPES.includes(r.type))) {
            const what = describeResource(bucket.name, bucket.type);
            const blocks = settingsOf(bucket, args.resources, PUBLIC_ACCESS_BLOCK);
            if (blocks.length === 0) {
                report(`${what} has no BucketPublicAccessBlock, so a bucket policy or an ACL can make it public. Add ` +
                    `aws.s3.BucketPublicAccessBlock({ bucket: <bucket>.id, ... }). ${fix}`, bucket.urn);
                continue;
            }
            const gaps = blocks.map((b) => ({ b, off: BLOCK_FLAGS.filter((f) => !isTrue(b.props[f])) }));
            if (gaps.every((g) => g.off.length > 0)) {
                const { b, off } = gaps[0];
                report(`${what}: its ${label(b)} leaves ${off.join(", ")} off, so a bucket policy or an ACL can still make it public. ${fix}`, bucket.urn);
            }
        }
    },
};

/** The default-encryption rules (`rules[].applyServerSideEncryptionByDefault`) of an SSE configuration. */
function encryptionDefaults(sse: PolicyResource): Props[] {
    return asArray(peek(sse.props, "rules")).map((r) => asRecord(asRecord(r)?.applyServerSideEncryptionByDefault)).filter((d): d is Props => d !== undefined);
}

const isSet = (value: unknown) => typeof value === "string" && value.trim() !== "";

export const s3Encrypted: StackValidationPolicy = {
    name: "s3-bucket-encrypted",
    description: "Every S3 bucket has a BucketServerSideEncryptionConfiguration with a default sseAlgorithm (any: ALB access logs need AES256).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const fix = "Add aws.s3.BucketServerSideEncryptionConfiguration({ bucket: <bucket>.id, rules: [{ applyServerSideEncryptionByDefault: " +
            "{ sseAlgorithm: \"aws:kms\", kmsMasterKeyId } }] }) (sseAlgorithm \"AES256\" where the writer requires it, as ALB access logs do).";
        for (const bucket of args.resources.filter((r) => BUCKET_TYPES.includes(r.type))) {
            const what = describeResource(bucket.name, bucket.type);
            const configs = settingsOf(bucket, args.resources, ENCRYPTION);
            if (configs.length === 0) {
                report(`${what} has no BucketServerSideEncryptionConfiguration, so its encryption is whatever the account default is, declared nowhere. ${fix}`, bucket.urn);
            } else if (!configs.some((c) => encryptionDefaults(c).some((d) => isSet(peek(d, "sseAlgorithm"))))) {
                report(`${what}: its ${label(configs[0])} sets no rules[].applyServerSideEncryptionByDefault.sseAlgorithm. ${fix}`, bucket.urn);
            }
        }
    },
};

/** Whether a lifecycle rule's `expiration` (an object, or a one-element list in some states) expires current versions. */
function expiresCurrent(expiration: unknown): boolean {
    const blocks = Array.isArray(expiration) ? expiration.map(asRecord) : [asRecord(expiration)];
    // `expiredObjectDeleteMarker` alone only drops delete markers that have no noncurrent version left.
    return blocks.some((e) => e !== undefined && ((asNumber(peek(e, "days")) ?? 0) > 0 || isSet(peek(e, "date"))));
}

/** What makes `bucket` expire its current objects: its lifecycle configurations' rules, and its own deprecated `lifecycleRules`. */
function currentExpirations(bucket: PolicyResource, all: readonly PolicyResource[]): string[] {
    const found: string[] = [];
    for (const config of settingsOf(bucket, all, LIFECYCLE)) {
        asArray(peek(config.props, "rules")).map(asRecord).forEach((rule, i) => {
            if (rule !== undefined && expiresCurrent(peek(rule, "expiration"))) {
                found.push(`rule '${asString(peek(rule, "id")) ?? `#${i}`}' of ${label(config)}`);
            }
        });
    }
    asArray(peek(bucket.props, "lifecycleRules")).map(asRecord).forEach((rule, i) => {
        if (rule !== undefined && expiresCurrent(peek(rule, "expiration"))) {
            found.push(`its lifecycleRules[${i}]`);
        }
    });
    return found;
}

const KMS_ALGORITHMS = ["aws:kms", "aws:kms:dsse"];

export const libsqlBackupsDurable: StackValidationPolicy = {
    name: "libsql-backups-durable",
    description: "The libSQL backup bucket (spin-cloud:role=libsql-backups) is versioned, encrypted with aws:kms and a customer key, and never expires current objects.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        for (const bucket of args.resources.filter((r) => BUCKET_TYPES.includes(r.type) && roleOf(r.props) === LIBSQL_BACKUPS_ROLE)) {
            const what = `${describeResource(bucket.name, bucket.type)}, the libSQL backups (spin-cloud:role=${LIBSQL_BACKUPS_ROLE}),`;
            const versioning = settingsOf(bucket, args.resources, VERSIONING);
            const statuses = versioning.map((v) => asString(peek(asRecord(peek(v.props, "versioningConfiguration")) ?? {}, "status")));
            if (!statuses.includes("Enabled")) {
                const state = versioning.length === 0 ? "has no BucketVersioning" : `has versioning '${statuses[0] ?? "unset"}' (${label(versioning[0])})`;
                report(`${what} ${state}, so an overwritten or deleted backup object cannot be recovered. Add aws.s3.BucketVersioning({ bucket: <bucket>.id, ` +
                    "versioningConfiguration: { status: \"Enabled\" } }), as LibsqlBackups does.", bucket.urn);
            }
            const defaults = settingsOf(bucket, args.resources, ENCRYPTION).flatMap(encryptionDefaults);
            if (!defaults.some((d) => KMS_ALGORITHMS.includes(asString(peek(d, "sseAlgorithm")) ?? "") && isSet(peek(d, "kmsMasterKeyId")))) {
                const kms = defaults.find((d) => KMS_ALGORITHMS.includes(asString(peek(d, "sseAlgorithm")) ?? ""));
                const state = defaults.length === 0 ? "declares no default encryption"
                    : kms !== undefined ? "uses aws:kms without a kmsMasterKeyId (the AWS managed key aws/s3, which no key policy of ours controls)"
                        : `is encrypted with ${asString(peek(defaults[0], "sseAlgorithm")) ?? "no sseAlgorithm"}, not a KMS key`;
                report(`${what} ${state}. Give it a BucketServerSideEncryptionConfiguration with applyServerSideEncryptionByDefault: ` +
                    "{ sseAlgorithm: \"aws:kms\", kmsMasterKeyId: <the app-data key ARN> }, as LibsqlBackups does.", bucket.urn);
            }
            for (const where of currentExpirations(bucket, args.resources)) {
                report(`${what} expires current objects (${where} has an expiration with days or date): the current objects are the live backup. ` +
                    "Expire only noncurrent versions (noncurrentVersionExpiration).", bucket.urn);
            }
        }
    },
};

/** AWS managed policies that grant S3 actions on every bucket. */
const BROAD_MANAGED = /^arn:aws[a-z-]*:iam::aws:policy\/(AmazonS3[A-Za-z]*|AdministratorAccess|PowerUserAccess|ReadOnlyAccess)$/;
const grantsS3 = (s: PolicyStatement) => grantsService(s, "s3");

export const s3AccessNamesBuckets: ResourceValidationPolicy = {
    name: "s3-access-names-buckets",
    description: "IAM grants of S3 actions name buckets (no `*`, no arn:aws:s3:::*, no NotResource) and never grant s3:* (nor `*`, nor NotAction); no broad AWS managed S3 policy.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [...GRANT_TYPES, ...Object.keys(ATTACHMENTS)]);
        const what = describeResource(args.name, args.type);
        const fix = "Name the buckets (arn:aws:s3:::<bucket>, arn:aws:s3:::<bucket>/*) and list the S3 actions needed, as libsqlBackupPolicy does.";
        const managed = ATTACHMENTS[args.type] !== undefined ? [asString(peek(args.props, "policyArn")) ?? ""]
            : args.type === ROLE ? asArray(peek(args.props, "managedPolicyArns")).filter((a): a is string => typeof a === "string") : [];
        for (const arn of managed.filter((a) => BROAD_MANAGED.test(a))) {
            report(`${what} ${ATTACHMENTS[args.type] !== undefined ? `attaches ${arn}` : `lists ${arn} in managedPolicyArns`}, which grants S3 actions on every bucket. ${fix}`);
        }
        // A document unknown during preview is read again when `pulumi up` registers the resource, before it is created.
        const read = (p: Props, k: string) => (peek(p, k) === UNKNOWN_STRING ? UNKNOWN_STRING : p[k]);
        for (const { where, doc } of documents(args.type, args.props, read).filter((d) => d.doc !== UNKNOWN_STRING)) {
            for (const s of (policyStatements(doc) ?? []).filter(grantsS3)) {
                const at = `${where} statement ${s.label}`;
                if (s.notAction) {
                    report(`${what} ${at} grants every action but ${s.actions.join(", ")} (NotAction): every other S3 action, s3:DeleteBucket and s3:PutBucketPolicy included. ${fix}`);
                } else if (s.actions.some((a) => isEveryServiceAction(a, "s3"))) {
                    const every = s.actions.find((a) => isEveryServiceAction(a, "s3"));
                    report(`${what} ${at} grants ${every === "*" ? "* (every action of every service)" : every}: every S3 action, s3:DeleteBucket and s3:PutBucketPolicy included. ${fix}`);
                }
                if (s.notResource) {
                    report(`${what} ${at} grants ${described(s)} on every resource but ${s.resources.join(", ")} (NotResource). ${fix}`);
                    continue;
                }
                for (const r of s.resources.filter((x) => hasWildcard(x) && namesEveryBucket(x))) {
                    report(`${what} ${at} grants ${described(s)} on ${r}, which names every bucket (other apps', other accounts'). ${fix}`);
                }
            }
        }
    },
};
