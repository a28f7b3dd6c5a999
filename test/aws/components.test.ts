/** Each component on its own, under mocks, with arguments the shipped stacks do not use. */
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { ClusterSecrets } from "../../components/aws/cluster-secrets";
import { Network } from "../../components/aws/network";
import { NomadCluster, ubuntuAmiParameter } from "../../components/aws/nomad-cluster";
import { nodePolicyDocument } from "../../components/aws/node-iam";
import { SpinCloud } from "../../components/aws/spin-cloud";
import { SAMPLE_CLUSTER } from "../fixtures/nodes";
import { evaluateStack, isSecretInput, lastRegistered, ofType, unwrapSecrets } from "../harness/mocks";

describe("Network", () => {
    it("makes one NAT gateway per zone in perAz mode and routes each private subnet to its own", async () => {
        const r = await evaluateStack("unit", () => {
            const net = new Network("n", { cidr: "10.9.0.0/20", availabilityZoneCount: 2, natGateways: "perAz", tags: { t: "1" } });
            return { subnets: net.privateSubnetIds };
        });
        assert.strictEqual(ofType(r, "aws:ec2/natGateway:NatGateway").length, 2);
        const privateTables = ofType(r, "aws:ec2/routeTable:RouteTable").filter((t) => t.name.startsWith("n-private"))
            .sort((a, b) => a.name.localeCompare(b.name));
        const targets = privateTables.map((t) => (t.inputs.routes as { natGatewayId: string }[])[0].natGatewayId);
        assert.deepStrictEqual(targets, ["n-nat-0-id", "n-nat-1-id"]);
        const subnets = ofType(r, "aws:ec2/subnet:Subnet").map((s) => [s.name, s.inputs.cidrBlock, s.inputs.availabilityZone]).sort();
        assert.deepStrictEqual(subnets, [
            ["n-private-0", "10.9.0.0/24", "mock-1a"], ["n-private-1", "10.9.1.0/24", "mock-1b"],
            ["n-public-0", "10.9.8.0/24", "mock-1a"], ["n-public-1", "10.9.9.0/24", "mock-1b"],
        ]);
        const [defaultGroup] = ofType(r, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup");
        assert.strictEqual(defaultGroup.inputs.ingress, undefined, "the default group keeps no rule");
    });

    it("fails with a clear error when the region has fewer zones than asked", async () => {
        await assert.rejects(evaluateStack("unit", () => {
            const net = new Network("n", { cidr: "10.9.0.0/16", availabilityZoneCount: 6, natGateways: "single", tags: {} });
            return { zones: net.availabilityZones };
        }), /availabilityZoneCount is 6 but this region has only 4 available zones/);
    });
});

describe("ClusterSecrets", () => {
    it("signs agent certificates with the names Nomad and Consul verify", async () => {
        const r = await evaluateStack("unit", () => {
            const s = new ClusterSecrets("s", { cluster: SAMPLE_CLUSTER, tags: {} });
            return { ca: s.caCertPem };
        });
        const requests = Object.fromEntries(ofType(r, "tls:index/certRequest:CertRequest").map((c) => [c.name, c.inputs]));
        assert.deepStrictEqual(requests["s-server"].dnsNames, ["server.global.nomad", "server.dc-test.consul", "localhost"]);
        assert.deepStrictEqual(requests["s-client"].dnsNames, ["client.global.nomad", "localhost"]);
        assert.deepStrictEqual(requests["s-server"].ipAddresses, ["127.0.0.1"]);
        const [ca] = ofType(r, "tls:index/selfSignedCert:SelfSignedCert");
        assert.strictEqual(ca.inputs.isCaCertificate, true);
        for (const cert of ofType(r, "tls:index/locallySignedCert:LocallySignedCert")) {
            assert.deepStrictEqual(cert.inputs.allowedUses, ["digital_signature", "key_encipherment", "server_auth", "client_auth"]);
            assert.ok(isSecretInput(cert.inputs.caPrivateKeyPem), "the CA key reaches the provider as a secret");
        }
    });

    it("makes the management tokens secret outputs and gossip keys 32 random bytes", async () => {
        let secretFlags: boolean[] = [];
        const r = await evaluateStack("unit", () => {
            const s = new ClusterSecrets("s", { cluster: SAMPLE_CLUSTER, tags: {} });
            Promise.all([pulumi.isSecret(s.consulManagementToken), pulumi.isSecret(s.nomadManagementToken)]).then((f) => { secretFlags = f; });
            return { token: s.consulManagementToken };
        });
        assert.deepStrictEqual(secretFlags, [true, true]);
        const gossip = ofType(r, "random:index/randomBytes:RandomBytes").sort((a, b) => a.name.localeCompare(b.name));
        assert.deepStrictEqual(gossip.map((g) => [g.name, g.inputs.length]), [["s-consul-gossip-key", 32], ["s-nomad-gossip-key", 32]]);
        const names = ofType(r, "aws:ssm/parameter:Parameter").map((p) => p.inputs.name);
        assert.ok(names.includes("/spin-cloud/test/server/nomad-management-token"));
        const values = ofType(r, "aws:ssm/parameter:Parameter").map((p) => unwrapSecrets(p.inputs.value));
        assert.ok(values.every((v) => typeof v === "string" && v.length > 0));
    });
});

describe("NomadCluster", () => {
    it("uses the amd64 Ubuntu image on x86_64 and places servers round-robin over the subnets", async () => {
        const r = await evaluateStack("unit", () => {
            const c = new NomadCluster("c", {
                cluster: { ...SAMPLE_CLUSTER, serverCount: 5 }, architecture: "x86_64",
                serverInstanceType: "t3.medium", clientInstanceType: "m7i.large",
                clientMinSize: 1, clientMaxSize: 2, clientDesiredSize: 1, rootVolumeSizeGb: 40,
                privateSubnetIds: ["s-a", "s-b", "s-c"], securityGroupIds: { server: "sg-s", client: "sg-c" },
                kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k", clientNodeClass: "spin",
                clientHostVolumes: [], tags: {}, bootDependencies: [],
                serverRoll: { nomadAddress: "https://ops:4646", consulAddress: "https://ops:8501", caPem: "CA", nomadToken: "n", consulToken: "c" },
            });
            return { ips: c.serverPrivateIps };
        });
        assert.ok(r.calls.some((c) => c.inputs.name === ubuntuAmiParameter("x86_64")));
        assert.match(ubuntuAmiParameter("x86_64"), /\/amd64\/hvm\/ebs-gp3\/ami-id$/);
        const servers = ofType(r, "aws:ec2/instance:Instance").sort((a, b) => a.name.localeCompare(b.name));
        assert.deepStrictEqual(servers.map((s) => s.inputs.subnetId), ["s-a", "s-b", "s-c", "s-a", "s-b"]);
        assert.ok(servers.every((s) => (s.inputs.vpcSecurityGroupIds as string[])[0] === "sg-s"));
        assert.strictEqual((servers[0].inputs.rootBlockDevice as { volumeSize: number }).volumeSize, 40);
    });
});

describe("node IAM policy", () => {
    it("scopes SSM reads to the role's paths and KMS decrypt to SSM use", () => {
        const doc = nodePolicyDocument("client", "eu-west-1", "/spin-cloud/x", "aws", "123456789012", "arn:k") as any;
        assert.deepStrictEqual(doc.Statement[1].Resource, [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/spin-cloud/x/common",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/spin-cloud/x/common/*",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/spin-cloud/x/client",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/spin-cloud/x/client/*",
        ]);
        const decrypt = doc.Statement.find((s: { Sid: string }) => s.Sid === "DecryptOwnSecrets");
        assert.deepStrictEqual(decrypt.Condition.StringEquals, { "kms:ViaService": "ssm.eu-west-1.amazonaws.com" });
    });
});

describe("SpinCloud", () => {
    it("validates its arguments before registering anything, also when used from code", async () => {
        await assert.rejects(evaluateStack("unit", () => {
            new SpinCloud("x", { awsRegion: "eu-west-1", serverCount: 2 });
            return {};
        }), /spin-cloud:serverCount = 2/);
        assert.deepStrictEqual(lastRegistered().filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
    });
});

describe("BindleServer", () => {
    it("hands the job a $2y$ htpasswd entry, a host signing key and a keyring trusting the creator key", async () => {
        const { BindleServer } = await import("../../components/platform/bindle-server");
        const { nomadProvider } = await import("../../components/nomad");
        const { parse } = await import("smol-toml");
        let creator = "";
        const r = await evaluateStack("unit", () => {
            const provider = nomadProvider("p", { address: "https://nomad.test:4646", caPem: "ca", secretId: "t" });
            const b = new BindleServer("b", { nomad: { provider, leader: provider }, datacenter: "dc1", architecture: "arm64", operatorUrl: "https://ops:8085/v1/" });
            b.creatorKeypair.apply((k) => { creator = k; });
            return {};
        });
        const [variable] = ofType(r, "nomad:index/variable:Variable");
        assert.strictEqual(variable.inputs.path, "nomad/jobs/bindle");
        assert.ok(isSecretInput(variable.inputs.items));
        const items = unwrapSecrets(variable.inputs.items) as Record<string, string>;
        assert.match(items.htpasswd, /^spin-cloud:\$2y\$10\$[0-9a-f]{53}\n$/);
        const signing = parse(items.signing_keys) as { key: { roles: string[]; keypair: string }[] };
        assert.deepStrictEqual(signing.key.map((k) => k.roles), [["host"]]);
        const keyring = parse(items.keyring) as { key: { roles: string[]; key: string }[] };
        assert.deepStrictEqual(keyring.key.map((k) => k.roles), [["host"], ["creator"]]);
        assert.strictEqual(keyring.key[1].key, Buffer.from(creator, "base64").subarray(32).toString("base64"));
        assert.strictEqual(keyring.key[0].key, Buffer.from(signing.key[0].keypair, "base64").subarray(32).toString("base64"));
        const [job] = ofType(r, "nomad:index/job:Job");
        assert.ok(!String(job.inputs.jobspec).includes(items.htpasswd.trim()), "no credential in the jobspec");
    });
});
