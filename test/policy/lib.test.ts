/** The pure helpers behind the policy pack. */
import { strict as assert } from "assert";
import { CLUSTER_RULES } from "../../components/aws/network-rules";
import { classifyCidr } from "../../policy/lib/cidr";
import { ingressRulesOf, reachesTcpPort } from "../../policy/lib/ingress";
import { isSpinAppJob, updateOf } from "../../policy/lib/nomad-job";
import { BINDLE_PORT, PROTECTED_PORTS } from "../../policy/lib/ports";
import { peek, stackOfUrn, tagsOf } from "../../policy/lib/props";
import { isGossipKey, scanJson, scanText } from "../../policy/lib/secret-material";
import { stackConfigFromEnv, stackListSetting } from "../../policy/lib/stack";
import { operatorNetworks } from "../../policy/policies/network";
import { addressPort, hostInDomain, hostMatchers, publicEntryPoints } from "../../policy/lib/traefik";
import { decodeBase64Text, parseCloudConfig } from "../../policy/lib/user-data";
import { artifactChecksum, isPinnedChecksum } from "../../policy/policies/jobs";
import { isLocalTarget } from "../../policy/policies/stack";
import { FAKE, gzipBase64 } from "../fixtures/policy/user-data";
import { addressCount } from "../../policy/lib/cidr";
import { enablesRawExec } from "../../policy/lib/agent-config";
import { ruleBranches } from "../../policy/lib/traefik-rule";
import { userDataParts } from "../../policy/lib/user-data-parts";
import { mimeMultipart } from "../fixtures/policy/registered";
import { grantsDynamo, grantsService, iamWildcardMatch, isDynamoAction, isEveryServiceAction, namesEveryBucket, policyStatements, tableOfArn, UNKNOWN_STRING } from "../../policy/lib/iam-policy";
import { UNKNOWN } from "../fixtures/policy/harness";

describe("policy helpers", () => {
    it("classify source CIDRs", () => {
        const cases: [string, string][] = [
            ["0.0.0.0/0", "internet"], ["::/0", "internet"], ["10.40.0.0/16", "private"], ["172.31.5.0/24", "private"],
            ["172.32.0.0/16", "public"], ["192.168.1.1/32", "private"], ["100.64.0.0/10", "private"], ["8.8.8.8/32", "public"],
            ["fd12:3456::/48", "private"], ["2001:db8::/32", "public"], ["10.0.0.0/7", "public"], ["10.0.0.0", "invalid"],
            ["300.0.0.0/8", "invalid"], ["1:2:3/64", "invalid"],
        ];
        for (const [cidr, expected] of cases) {
            assert.strictEqual(classifyCidr(cidr), expected, cidr);
        }
    });

    it("protect every port the cluster rules open, and Bindle's", () => {
        const isProtected = (port: number) => PROTECTED_PORTS.some((p) => p.from <= port && port <= p.to);
        for (const rule of CLUSTER_RULES) {
            assert.ok(isProtected(rule.port), `${rule.description} ${rule.port}`);
        }
        assert.ok(isProtected(BINDLE_PORT) && isProtected(8502) && !isProtected(443) && !isProtected(20000));
    });

    it("treat all-protocol rules as reaching every port and ICMP as reaching none", () => {
        const [all] = ingressRulesOf("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { ipProtocol: "-1", cidrIpv4: "10.0.0.0/8" });
        const [icmp] = ingressRulesOf("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { ipProtocol: "icmp", fromPort: 22, toPort: 22, cidrIpv4: "10.0.0.0/8" });
        assert.ok(reachesTcpPort(all, 22) && !reachesTcpPort(icmp, 22));
        const egress = ingressRulesOf("aws:ec2/securityGroupRule:SecurityGroupRule", { type: "egress", protocol: "-1", cidrBlocks: ["0.0.0.0/0"] });
        assert.deepStrictEqual(egress, []);
    });

    it("read tags from maps and from Auto Scaling Group lists, and the stack from a URN", () => {
        assert.deepStrictEqual(tagsOf({ tags: [{ key: "a", value: "1", propagateAtLaunch: true }] }), { a: "1" });
        assert.deepStrictEqual(tagsOf({ tags: { b: "2" } }), { b: "2" });
        assert.strictEqual(stackOfUrn("urn:pulumi:prod::spin-cloud::spin-cloud:index:SpinCloud$aws:ec2/instance:Instance::s"), "prod");
    });

    it("peek at a value behind the unknown-value proxy without throwing", () => {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const { unknownCheckingProxy } = require("@pulumi/policy");
        const props = unknownCheckingProxy({ keyId: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
        assert.throws(() => props.keyId, /can't be known during preview/);
        assert.strictEqual(peek(props, "keyId"), "04da6b54-80e4-46f7-96ec-b56ff0331ba9");
    });

    it("recognise secret material and leave names of secrets alone", () => {
        assert.ok(isGossipKey(FAKE.gossipKey) && !isGossipKey("short=") && !isGossipKey(Buffer.alloc(33).toString("base64")));
        assert.deepStrictEqual(scanText(`{"encrypt": "${FAKE.gossipKey}"}`, "x").map((f) => f.kind), ["gossip key"]);
        assert.deepStrictEqual(scanText(`NOMAD_TOKEN=${FAKE.token}`, "x").map((f) => f.kind), ["token"]);
        assert.deepStrictEqual(scanText(FAKE.privateKeyPem, "x").map((f) => f.kind), ["private key"]);
        assert.deepStrictEqual(scanText("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "x"), []);
        assert.deepStrictEqual(scanText("CONSUL_ACL_POLICY_0_TOKEN='consul-agent-token'\nSSM_SECRET_NAMES='ca-cert tls-key'", "x"), []);
        assert.deepStrictEqual(scanJson({ acl: { tokens: { agent: FAKE.token } } }, "f").map((f) => f.where), ["f at acl.tokens.agent"]);
        assert.deepStrictEqual(scanJson({ node_id: FAKE.token }, "f"), []);
    });

    it("decode base64 and gzip user data, and cloud-config write_files encodings", () => {
        const doc = "#cloud-config\nwrite_files:\n- path: /a\n  encoding: gz+b64\n  content: " + gzipBase64("hello") + "\n";
        const decoded = decodeBase64Text(gzipBase64(doc));
        assert.ok(decoded.ok && decoded.value === doc);
        const parsed = parseCloudConfig(doc);
        assert.ok(parsed.ok && parsed.value.files[0].content === "hello");
        assert.ok(!decodeBase64Text("#cloud-config\n").ok);
        assert.ok(!parseCloudConfig("#!/bin/sh\n").ok);
    });

    it("match Traefik hosts against domains on label boundaries", () => {
        assert.deepStrictEqual(hostMatchers("Host(`A.example.com`) || (PathPrefix(`/x`) && HostSNI(`*`))"),
            [{ kind: "host", host: "a.example.com" }, { kind: "unverifiable", text: "HostSNI(`*`)" }]);
        assert.ok(hostInDomain("a.example.com", "example.com") && hostInDomain("example.com", "*.example.com"));
        assert.ok(!hostInDomain("badexample.com", "example.com"));
        assert.strictEqual(addressPort("[::]:443/tcp"), 443);
        const entryPoints = { a: { address: ":80" }, b: { address: "127.0.0.1:8081" }, c: { address: "0.0.0.0:443/tcp" }, d: { address: ":8080" } };
        assert.deepStrictEqual(publicEntryPoints({ entryPoints }), ["a", "c", "d"], "80, 443 and Traefik's web port are public");
    });

    it("accept only literal checksums of the right length", () => {
        assert.ok(isPinnedChecksum("sha256:" + "0".repeat(64)) && isPinnedChecksum("md5:" + "f".repeat(32)));
        assert.ok(!isPinnedChecksum("sha256:" + "0".repeat(63)) && !isPinnedChecksum("file:https://x/sums") && !isPinnedChecksum(undefined));
        assert.strictEqual(artifactChecksum("https://x/a.tgz?archive=false&checksum=sha1:ab", undefined), "sha1:ab");
        assert.strictEqual(artifactChecksum("https://x/a.tgz?checksum=sha1:ab", { checksum: "md5:cd" }), "md5:cd");
    });

    it("merge a group's update over the job's and recognise Spin apps", () => {
        assert.deepStrictEqual(updateOf({ Update: { AutoRevert: true } }, { Update: { AutoRevert: null as unknown as boolean } }), { AutoRevert: true });
        assert.strictEqual(updateOf({}, {}), undefined);
        const spinTask = { Name: "t", Driver: "exec", Config: { command: "/usr/local/bin/spin" } };
        assert.ok(isSpinAppJob({ TaskGroups: [{ Tasks: [spinTask] }] }));
        assert.ok(!isSpinAppJob({ TaskGroups: [{ Tasks: [{ ...spinTask, Driver: "docker" }] }] }));
    });

    it("exempt local targets by stack config or policy config, and read operator networks from both", () => {
        assert.ok(isLocalTarget("dev", { "spin-cloud:target": "local" }, []));
        assert.ok(isLocalTarget("laptop", {}, ["laptop"]));
        assert.ok(!isLocalTarget("dev", { "spin-cloud:target": "aws" }, ["laptop"]));
        assert.deepStrictEqual(stackConfigFromEnv({ PULUMI_CONFIG: "{\"spin-cloud:target\":\"local\",\"n\":3}" }), { "spin-cloud:target": "local", n: "3" });
        assert.deepStrictEqual(stackConfigFromEnv({ PULUMI_CONFIG: "not json" }), {});
        assert.deepStrictEqual(stackListSetting({ k: "[\"a\",1]" }, "k"), ["a"]);
        assert.deepStrictEqual([...operatorNetworks(["10.1.0.0/16", "::/0"], { "spin-cloud:operatorCidrs": "[\"203.0.113.7/32\",\"0.0.0.0/0\"]" })],
            ["10.1.0.0/16", "203.0.113.7/32"]);
    });

    it("split user data into parts the way cloud-init does", () => {
        const mime = mimeMultipart([
            { type: "text/cloud-config", content: "#cloud-config\n{}\n", filename: "a.yaml" },
            { type: "text/x-shellscript", content: "#!/bin/sh\necho hi\n", filename: "b.sh", base64: true },
        ]);
        assert.deepStrictEqual(userDataParts(mime).map((p) => [p.type, p.content.split("\n")[0]]),
            [["text/cloud-config", "#cloud-config"], ["text/x-shellscript", "#!/bin/sh"]]);
        const archive = "#cloud-config-archive\n- content: \"#!/bin/sh\\ntrue\"\n- type: text/cloud-config\n  content: \"a: 1\"\n";
        assert.deepStrictEqual(userDataParts(archive).map((p) => p.type), ["text/x-shellscript", "text/cloud-config"]);
        assert.deepStrictEqual(userDataParts(Buffer.from(gzipBase64("## template: jinja\n#cloud-config\n"), "base64")).map((p) => p.type), ["text/cloud-config"]);
        assert.strictEqual(userDataParts("#include-once\nhttps://x/y\n")[0].type, "text/x-include-once-url");
    });

    it("find secrets under other names, as arguments and inside base64", () => {
        const kinds = (text: string) => [...new Set(scanText(text, "x").map((f) => f.kind))];
        assert.deepStrictEqual(kinds(`CONSUL_GOSSIP_KEY=${FAKE.gossipKey}`), ["gossip key"]);
        assert.deepStrictEqual(kinds(`consul keyring -install ${FAKE.gossipKey}`), ["gossip key"]);
        assert.deepStrictEqual(kinds(`nomad job run --token ${FAKE.token} job.json`), ["token"]);
        assert.deepStrictEqual(kinds("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), ["cloud credential"]);
        assert.deepStrictEqual(kinds(`echo ${Buffer.from(`NOMAD_TOKEN=${FAKE.token}`).toString("base64")} | base64 -d`), ["token"]);
        assert.deepStrictEqual(kinds("BINDLE_PASSWORD=${BINDLE_PASSWORD} checksum=sha256:" + "ab".repeat(32)), []);
        assert.deepStrictEqual(scanJson({ args: ["-token", FAKE.token] }, "j").map((f) => f.kind), ["token"]);
    });

    it("read every || branch of a Traefik rule", () => {
        const pinned = (rule: string) => ruleBranches(rule)?.map((b) => b.hostCalls.length > 0);
        assert.deepStrictEqual(pinned("Host(`a`) || PathPrefix(`/`)"), [true, false]);
        assert.deepStrictEqual(pinned("Host(`a`) && (Path(`/x`) || PathPrefix(`/x/`))"), [true, true]);
        assert.deepStrictEqual(pinned("!Host(`a`) && Path(`/x`)"), [false]);
        assert.deepStrictEqual(pinned("(Host(`a`) || Path(`/x`)) && Method(`GET`)"), [true, false]);
        assert.strictEqual(ruleBranches("Host(`a`) ||"), undefined);
        assert.strictEqual(ruleBranches("Host(`a`"), undefined);
    });

    it("count addresses of CIDR sets once per address, and spot raw_exec in Nomad configs", () => {
        assert.strictEqual(addressCount(["11.0.0.0/8", "11.0.0.0/9", "12.0.0.0/8"]), 2n ** 25n);
        assert.strictEqual(addressCount(["2001:db8::/32"]), 2n ** 96n);
        assert.ok(enablesRawExec({ plugin: [{ raw_exec: [{ config: [{ enabled: true }] }] }] }));
        assert.ok(enablesRawExec({ plugin: { raw_exec: { config: { enabled: true } } } }));
        assert.ok(enablesRawExec({ client: { options: { "driver.raw_exec.enable": "1" } } }));
        assert.ok(!enablesRawExec({ plugin: [{ exec: [{ config: [{}] }] }, { raw_exec: [{ config: [{ enabled: false }] }] }] }));
    });

    it("read IAM documents as IAM does: string or list elements, wildcards, case, NotAction, table ARNs", () => {
        const [one, two] = policyStatements(JSON.stringify({ Statement: [{ Effect: "Allow", Action: "DynamoDB:GetItem", Resource: "*" }, { Sid: "n", Effect: "Allow", NotAction: ["s3:*"], NotResource: "arn:x" }] }))!;
        assert.deepEqual(one, { label: "#0", allow: true, actions: ["DynamoDB:GetItem"], notAction: false, resources: ["*"], notResource: false });
        assert.deepEqual(two, { label: "n", allow: true, actions: ["s3:*"], notAction: true, resources: ["arn:x"], notResource: true });
        assert.equal(policyStatements({ Statement: { Effect: "Deny", Action: "dynamodb:*", Resource: "*" } })!.filter(grantsDynamo).length, 0, "a single statement object; Deny grants nothing");
        assert.equal(policyStatements("not json"), undefined);
        for (const a of ["*", "dynamodb:*", "dynamodb:Get*", "dynamo*:PutItem", "DYNAMODB:scan", "dynamodb:?etItem"]) assert.ok(isDynamoAction(a), a);
        for (const a of ["s3:*", "kms:Decrypt", "dynamodbx:GetItem", "sts:AssumeRole"]) assert.ok(!isDynamoAction(a), a);
        assert.ok(grantsDynamo(two), "NotAction s3:* allows every DynamoDB action");
        assert.ok(!grantsDynamo({ ...two, actions: ["dynamodb:*"] }));
        assert.ok(iamWildcardMatch("arn:aws:dynamodb:*:*:table/a-?", "arn:aws:dynamodb:eu-west-1:1:table/a-b"));
        assert.ok(!iamWildcardMatch("table/a.b", "table/aXb"), "a dot is literal");
        assert.equal(tableOfArn("arn:aws:dynamodb:eu-west-1:123456789012:table/c-shop-kv-default"), "c-shop-kv-default");
        assert.equal(tableOfArn("arn:aws-us-gov:dynamodb:us-gov-west-1:1:table/t/index/by-x"), "t");
        assert.equal(tableOfArn("arn:aws:kms:eu-west-1:1:key/k"), undefined);
        assert.equal(UNKNOWN_STRING, UNKNOWN, "the preview placeholder the harness (and @pulumi/policy) uses");
    });

    it("tell S3 grants, every-S3-action patterns and resources that reach every bucket", () => {
        const [s3, kms] = policyStatements({ Statement: [{ Effect: "Allow", Action: "S3:Get*", Resource: "*" }, { Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }] })!;
        assert.ok(grantsService(s3, "s3") && !grantsService(kms, "s3"));
        assert.ok(!grantsService({ ...kms, notAction: true, actions: ["s3:*"] }, "s3"), "NotAction s3:* leaves no S3 action");
        assert.ok(grantsService({ ...kms, notAction: true, actions: ["iam:*"] }, "s3"));
        for (const a of ["*", "s3:*", "S3:*"]) assert.ok(isEveryServiceAction(a, "s3"), a);
        for (const a of ["s3:Get*", "s3:*Object", "dynamodb:*"]) assert.ok(!isEveryServiceAction(a, "s3"), a);
        for (const r of ["*", "arn:aws:s3:::*", "arn:aws:s3:::*/*", "arn:*:s3:::*", "arn:aws:s3:*", "arn:aws-cn:s3:::*/logs/*", "arn:aws:*"]) assert.ok(namesEveryBucket(r), r);
        for (const r of ["arn:aws:s3:::spin-cloud-libsql-*", "arn:aws:s3:::spin-cloud-libsql-x/*", "arn:aws:s3:::b", "arn:aws:kms:eu-west-1:1:key/*"]) assert.ok(!namesEveryBucket(r), r);
    });
});
