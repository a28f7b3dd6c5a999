/** loadBalancerProtection: deletion protection and access logs on both load balancers (prod), none on dev. */
import * as assert from "assert";
import { accessLogsPolicy } from "../../components/aws/lb-access-logs";
import { ofType } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";

describe("load balancer protection", () => {
    it("prod: both load balancers keep deletion protection and log to the one encrypted, private bucket", async () => {
        const r = await shippedStack("prod");
        const [bucket] = ofType(r, "aws:s3/bucket:Bucket");
        assert.ok(bucket, "a log bucket");
        const lbs = ofType(r, "aws:lb/loadBalancer:LoadBalancer");
        assert.strictEqual(lbs.length, 2);
        for (const lb of lbs) {
            assert.strictEqual(lb.inputs.enableDeletionProtection, true, lb.name);
            const logs = lb.inputs.accessLogs as { enabled: boolean; bucket: string; prefix: string };
            assert.strictEqual(logs.enabled, true);
            assert.strictEqual(logs.bucket, bucket.state.bucket);
        }
        const [sse] = ofType(r, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration");
        assert.deepStrictEqual((sse.inputs.rules as any[])[0].applyServerSideEncryptionByDefault, { sseAlgorithm: "AES256" });
        const [block] = ofType(r, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
        assert.ok(["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].every((k) => block.inputs[k] === true));
    });

    it("dev (the default): neither, so the stack destroys cleanly", async () => {
        const r = await shippedStack("dev");
        // The only bucket is the libSQL backups' (retained on destroy, so destroy does not stop at its objects).
        assert.deepStrictEqual(ofType(r, "aws:s3/bucket:Bucket").map((b) => b.inputs.bucketPrefix), ["spin-cloud-libsql-"]);
        for (const lb of ofType(r, "aws:lb/loadBalancer:LoadBalancer")) {
            assert.strictEqual(lb.inputs.enableDeletionProtection, undefined);
            assert.strictEqual(lb.inputs.accessLogs, undefined);
        }
    });

    it("the bucket policy lets only the Region's ELB account and the NLB log delivery write, over TLS", () => {
        const policy = accessLogsPolicy("arn:aws:s3:::logs", "arn:aws:iam::156460612806:root", "123456789012");
        const allows = policy.Statement.filter((s) => s.Effect === "Allow");
        assert.deepStrictEqual(allows.map((s) => s.Principal), [{ AWS: "arn:aws:iam::156460612806:root" }, { Service: "delivery.logs.amazonaws.com" }, { Service: "delivery.logs.amazonaws.com" }]);
        assert.ok(allows.every((s) => JSON.stringify(s.Resource).includes("arn:aws:s3:::logs")));
        assert.ok(policy.Statement.some((s) => s.Effect === "Deny" && JSON.stringify(s.Condition).includes("aws:SecureTransport")));
    });
});
