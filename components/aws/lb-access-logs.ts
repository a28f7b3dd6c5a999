/**
 * Where both load balancers write their access logs when `loadBalancerProtection` is on (prod):
 * one S3 bucket, SSE-S3 encrypted (the only server-side encryption ALB access logs support),
 * public access blocked, bucket-owner-enforced, logs expired after 90 days, and a policy that lets
 * exactly the two delivery paths write: the Region's Elastic Load Balancing account for the ALB
 * (aws.elb.getServiceAccount; AWS docs elasticloadbalancing/latest/application/enable-access-logging.html)
 * and the log delivery service for the NLB's TLS listener (network/load-balancer-access-logs.html).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { privateBucket, tlsOnlyStatement } from "./private-bucket";

export interface LoadBalancerLogsArgs {
    readonly tags?: Record<string, string>;
}

/** Prefixes of the two load balancers' logs in the bucket. */
export const LB_LOG_PREFIXES = { ingress: "ingress", operator: "operator" } as const;

export class LoadBalancerLogs extends pulumi.ComponentResource {
    readonly bucket: pulumi.Output<string>;

    constructor(name: string, args: LoadBalancerLogsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:ingress:LoadBalancerLogs", name, {}, opts);
        const parent = { parent: this };
        // bucketPrefix: the autoname of a logical name this long could pass S3's 63 characters.
        const bucket = privateBucket(`${name}-logs`, { bucketPrefix: "spin-cloud-lb-logs-", encryption: { sseAlgorithm: "AES256" }, tags: args.tags }, this);
        new aws.s3.BucketLifecycleConfiguration(`${name}-logs`, {
            bucket: bucket.id,
            rules: [{ id: "expire", status: "Enabled", filter: {}, expiration: { days: 90 } }],
        }, parent);
        const elbAccount = aws.elb.getServiceAccountOutput({}, parent);
        const caller = aws.getCallerIdentityOutput({}, parent);
        new aws.s3.BucketPolicy(`${name}-logs`, {
            bucket: bucket.id,
            policy: pulumi.all([bucket.arn, elbAccount.arn, caller.accountId]).apply(([arn, elb, account]) => JSON.stringify(accessLogsPolicy(arn, elb, account))),
        }, parent);
        this.bucket = bucket.bucket;
        this.registerOutputs({ bucket: this.bucket });
    }
}

/** The bucket policy: the ALB's regional ELB account and the NLB's log delivery service may write; nobody else. */
export function accessLogsPolicy(bucketArn: string, elbAccountArn: string, accountId: string) {
    const objects = `${bucketArn}/*/AWSLogs/${accountId}/*`;
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "AlbLogDelivery", Effect: "Allow", Principal: { AWS: elbAccountArn }, Action: "s3:PutObject", Resource: objects },
            {
                Sid: "NlbLogDelivery", Effect: "Allow", Principal: { Service: "delivery.logs.amazonaws.com" }, Action: "s3:PutObject", Resource: objects,
                Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": accountId } },
            },
            {
                Sid: "NlbLogDeliveryAcl", Effect: "Allow", Principal: { Service: "delivery.logs.amazonaws.com" }, Action: "s3:GetBucketAcl", Resource: bucketArn,
                Condition: { StringEquals: { "aws:SourceAccount": accountId } },
            },
            tlsOnlyStatement(bucketArn),
        ],
    };
}
