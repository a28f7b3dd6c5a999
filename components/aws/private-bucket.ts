/**
 * An S3 bucket no one outside the account reaches: default encryption, every public access
 * blocked, objects owned by the bucket owner (ACLs off). The load balancers' logs bucket and the
 * libSQL backups bucket are built with it; the policy pack checks every bucket for the first two
 * (policy/policies/buckets.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export type BucketEncryption =
    /** SSE-S3: the only server-side encryption ALB access logs support. */
    | { readonly sseAlgorithm: "AES256" }
    | { readonly sseAlgorithm: "aws:kms"; readonly kmsMasterKeyId: pulumi.Input<string> };

export interface PrivateBucketArgs {
    /** At most 37 characters: S3 names are at most 63, the provider appends 26. */
    readonly bucketPrefix: string;
    readonly encryption: BucketEncryption;
    readonly tags?: Record<string, string>;
    /** Keep the bucket (and its objects) when it leaves the program or the stack is destroyed. */
    readonly retainOnDelete?: boolean;
}

/** The bucket and its settings, every one named `name` under `parent`. */
export function privateBucket(name: string, args: PrivateBucketArgs, parent: pulumi.Resource): aws.s3.Bucket {
    const bucket = new aws.s3.Bucket(name, { bucketPrefix: args.bucketPrefix, forceDestroy: false, tags: args.tags }, { parent, retainOnDelete: args.retainOnDelete });
    new aws.s3.BucketServerSideEncryptionConfiguration(name, {
        bucket: bucket.id,
        rules: [{
            applyServerSideEncryptionByDefault: { ...args.encryption },
            ...(args.encryption.sseAlgorithm === "aws:kms" ? { bucketKeyEnabled: true } : {}),
        }],
    }, { parent });
    new aws.s3.BucketPublicAccessBlock(name, {
        bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, { parent });
    new aws.s3.BucketOwnershipControls(name, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, { parent });
    return bucket;
}

/** The statement that denies every request not made over TLS. */
export function tlsOnlyStatement(bucketArn: string) {
    return {
        Sid: "TlsOnly", Effect: "Deny" as const, Principal: "*", Action: "s3:*", Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    };
}
