/**
 * Every stack in `stacks/` evaluated under mocks: what `pulumi up` would register, checked
 * semantically, plus determinism and secret hygiene.
 */
import * as assert from "assert";
import { CLUSTER_RULES } from "../../components/aws/network-rules";
import { spinCloudProgram } from "../../components/program";
import { SETTINGS } from "../../components/settings/config";
import { SECRET_PARAMETERS } from "../../provisioning/agents/secrets";
import { MockResource, MockRun, evaluateStack, isSecretInput, lastRegistered, ofType } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";
import { loadStackConfig, shippedStacks, stackTarget } from "../harness/stack-config";
import { setByStack } from "../../components/settings/project-config";
import { assertValidNomadJob } from "../harness/nomad-job-schema";
import { strings } from "../harness/walk";

/** The AWS stacks; the local target's are in local-stack.test.ts. */
const STACKS = shippedStacks().filter((stack) => stackTarget(stack) === "aws");
const PLATFORM_COMPONENTS = ["spin-cloud:platform:BindleServer", "spin-cloud:platform:Traefik"];
const runs = new Map<string, MockRun>();

async function run(stack: string): Promise<MockRun> {
    if (!runs.has(stack)) {
        runs.set(stack, await shippedStack(stack));
    }
    return runs.get(stack)!;
}

/** The stack's value of a setting, else the program's default (Pulumi.yaml's defaults mean "not set"). */
function setting(stack: string, key: string): string {
    const fallback = (SETTINGS as Record<string, { default: unknown }>)[key]?.default;
    return setByStack(loadStackConfig(stack))[`spin-cloud:${key}`] ?? (typeof fallback === "string" ? fallback : JSON.stringify(fallback));
}

describe("shipped stacks", () => {
    it("include dev and prod", () => {
        assert.ok(STACKS.includes("dev") && STACKS.includes("prod"), STACKS.join(","));
    });

    for (const stack of STACKS) {
        describe(`stack ${stack}`, () => {
            it("registers the servers, spread over the zones, and a client ASG sized from config", async () => {
                const r = await run(stack);
                const servers = ofType(r, "aws:ec2/instance:Instance");
                assert.strictEqual(servers.length, Number(setting(stack, "serverCount")));
                const zones = Number(setting(stack, "availabilityZoneCount"));
                const subnets = new Set(servers.map((s) => s.inputs.subnetId));
                assert.strictEqual(subnets.size, Math.min(servers.length, zones));
                const [asg] = ofType(r, "aws:autoscaling/group:Group");
                assert.strictEqual(asg.inputs.minSize, Number(setting(stack, "clientMinSize")));
                assert.strictEqual(asg.inputs.maxSize, Number(setting(stack, "clientMaxSize")));
                assert.strictEqual(asg.inputs.desiredCapacity, Number(setting(stack, "clientDesiredSize")));
                assert.strictEqual((asg.inputs.vpcZoneIdentifiers as string[]).length, zones);
            });

            it("builds the network: private and public subnets per zone, NAT as configured", async () => {
                const r = await run(stack);
                const zones = Number(setting(stack, "availabilityZoneCount"));
                const subnets = ofType(r, "aws:ec2/subnet:Subnet");
                assert.strictEqual(subnets.length, 2 * zones);
                assert.ok(subnets.every((s) => s.inputs.mapPublicIpOnLaunch !== true));
                const nats = ofType(r, "aws:ec2/natGateway:NatGateway");
                assert.strictEqual(nats.length, setting(stack, "natGateways") === "perAz" ? zones : 1);
            });

            it("opens every cluster port between nodes, only 80/443 to the internet, operators only to their endpoint, no SSH", async () => {
                const r = await run(stack);
                const all = ofType(r, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
                const operatorCidrs: string[] = JSON.parse(setting(stack, "operatorCidrs"));
                const publicPorts = setting(stack, "appsDomain") ? [80, 443] : [80];
                for (const rule of all) {
                    assert.strictEqual(rule.inputs.cidrIpv6, undefined, rule.name);
                    const from = rule.inputs.fromPort as number;
                    const to = rule.inputs.toPort as number;
                    assert.ok(!(from <= 22 && 22 <= to), `${rule.name} admits SSH`);
                    if (rule.inputs.cidrIpv4 === "0.0.0.0/0") {
                        assert.ok(rule.name.startsWith("spin-cloud-ingress-alb-") && publicPorts.includes(from) && from === to,
                            `${rule.name} opens ${from}-${to} to the internet`);
                    }
                }
                const internetRules = all.filter((x) => x.inputs.cidrIpv4 === "0.0.0.0/0").map((x) => x.inputs.fromPort as number).sort((a, b) => a - b);
                assert.deepStrictEqual(internetRules, publicPorts);
                const operatorRules = all.filter((x) => x.name.includes("-operators-"));
                assert.strictEqual(operatorRules.length, 4 * operatorCidrs.length);
                assert.ok(operatorRules.every((x) => operatorCidrs.includes(x.inputs.cidrIpv4 as string)));
                const rules = all.filter((x) => x.name.startsWith("spin-cloud-net-"));
                const opened = new Set(rules.map((x) => `${x.inputs.fromPort}/${x.inputs.ipProtocol}`));
                for (const port of ["4646/tcp", "4647/tcp", "4648/tcp", "4648/udp", "8300/tcp", "8301/tcp", "8301/udp",
                    "8302/tcp", "8302/udp", "8500/tcp", "8501/tcp", "8503/tcp", "8600/tcp", "8600/udp"]) {
                    assert.ok(opened.has(port), `${port} not opened`);
                }
                const expected = CLUSTER_RULES.reduce((n, x) => n + x.from.length * x.protocols.length, 0) + 1;
                assert.strictEqual(rules.length, expected);
                const dynamic = rules.find((x) => x.inputs.fromPort === 20000);
                assert.ok(dynamic && dynamic.inputs.toPort === 32000 && dynamic.inputs.referencedSecurityGroupId === dynamic.inputs.securityGroupId);
            });

            it("requires IMDSv2 with one hop and encrypted gp3 root volumes on every node", async () => {
                const r = await run(stack);
                for (const server of ofType(r, "aws:ec2/instance:Instance")) {
                    assert.deepStrictEqual(server.inputs.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
                    const root = server.inputs.rootBlockDevice as Record<string, unknown>;
                    assert.strictEqual(root.encrypted, true);
                    assert.strictEqual(root.volumeType, "gp3");
                    assert.strictEqual(server.inputs.instanceType, setting(stack, "serverInstanceType"));
                    assert.strictEqual((server.inputs.tags as Record<string, string>)["spin-cloud-join"], `spin-cloud-${stack}`);
                }
                const [template] = ofType(r, "aws:ec2/launchTemplate:LaunchTemplate");
                assert.deepStrictEqual(template.inputs.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
                const [device] = template.inputs.blockDeviceMappings as { ebs: Record<string, unknown> }[];
                assert.strictEqual(device.ebs.encrypted, "true");
                assert.strictEqual(device.ebs.volumeType, "gp3");
                assert.strictEqual(template.inputs.instanceType, setting(stack, "clientInstanceType"));
            });

            it("uses Canonical's Ubuntu 24.04 SSM parameter for the AMI of the configured architecture", async () => {
                const r = await run(stack);
                const lookups = r.calls.filter((c) => c.token === "aws:ssm/getParameter:getParameter");
                assert.deepStrictEqual([...new Set(lookups.map((c) => c.inputs.name))],
                    ["/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"]);
            });

            it("gives each node role a least-privilege policy and Session Manager access", async () => {
                const r = await run(stack);
                const policies = ofType(r, "aws:iam/rolePolicy:RolePolicy");
                assert.strictEqual(policies.length, 2);
                for (const policy of policies) {
                    const role = policy.name.endsWith("-server") ? "server" : "client";
                    const doc = JSON.parse(policy.inputs.policy as string);
                    const byId = Object.fromEntries(doc.Statement.map((s: { Sid: string }) => [s.Sid, s]));
                    assert.deepStrictEqual(byId.CloudAutoJoin.Action, ["ec2:DescribeInstances"]);
                    const prefix = `parameter/spin-cloud/spin-cloud-${stack}`;
                    const other = role === "server" ? "client" : "server";
                    const resources: string[] = byId.ReadOwnSecrets.Resource;
                    assert.ok(resources.some((a) => a.endsWith(`${prefix}/common/*`)));
                    assert.ok(resources.some((a) => a.endsWith(`${prefix}/${role}/*`)));
                    assert.ok(!resources.some((a) => a.includes(`${prefix}/${other}`)), `${role} may read ${other} secrets`);
                    assert.match(byId.DecryptOwnSecrets.Resource, /^arn:aws:kms:/);
                    // Clients may also mark themselves Unhealthy (boot deadline, test/aws/boot-deadline.test.ts).
                    // Plus the explicit deny of the other role's parameters (test/aws/node-iam.test.ts).
                    assert.deepStrictEqual(doc.Statement.length, role === "client" ? 5 : 4);
                    assert.strictEqual(byId.ReplaceSelfWhenStuck?.Condition.StringEquals["autoscaling:ResourceTag/spin-cloud:cluster"],
                        role === "client" ? `spin-cloud-${stack}` : undefined);
                }
                const attachments = ofType(r, "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
                assert.ok(attachments.length === 2 && attachments.every((a) => String(a.inputs.policyArn).endsWith(":iam::aws:policy/AmazonSSMManagedInstanceCore")));
            });

            it("stores every secret as a KMS-encrypted SecureString that reaches the provider as a secret", async () => {
                const r = await run(stack);
                const [key] = ofType(r, "aws:kms/key:Key");
                assert.strictEqual(key.inputs.enableKeyRotation, true);
                const params = ofType(r, "aws:ssm/parameter:Parameter").filter((p) => p.inputs.type !== "String");
                assert.strictEqual(params.length, SECRET_PARAMETERS.length);
                for (const p of params) {
                    assert.strictEqual(p.inputs.type, "SecureString", p.name);
                    assert.strictEqual(p.inputs.keyId, key.state.arn, p.name);
                    assert.ok(isSecretInput(p.inputs.value), `${p.name} value is not a secret`);
                    assert.match(String(p.inputs.name), new RegExp(`^/spin-cloud/spin-cloud-${stack}/(common|server|client)/`));
                }
            });

            it("puts no secret value in user data or any non-secret input", async () => {
                const r = await run(stack);
                assert.ok(r.secretValues.length >= 8, "the mocks invented the secrets");
                for (const resource of r.resources) {
                    for (const [path, text] of strings(resource.inputs, isSecretInput)) {
                        for (const secret of r.secretValues) {
                            assert.ok(!text.includes(secret), `${resource.type} ${resource.name}.${path} contains a secret`);
                            const encoded = Buffer.from(secret).toString("base64");
                            assert.ok(!text.includes(encoded), `${resource.type} ${resource.name}.${path} contains a base64 secret`);
                        }
                    }
                }
            });

            it("parents every resource under the SpinCloud component with spin-cloud type tokens", async () => {
                const r = await run(stack);
                const components = r.resources.filter((x) => !x.custom && x.type !== "pulumi:pulumi:Stack");
                assert.deepStrictEqual([...new Set(components.map((c) => c.type))].sort(), [
                    "spin-cloud:bindle:BindleStorage", "spin-cloud:cluster:ClusterSecrets", "spin-cloud:cluster:NomadCluster",
                    "spin-cloud:index:SpinCloud", "spin-cloud:ingress:OperatorEndpoint", "spin-cloud:ingress:PublicIngress",
                    "spin-cloud:network:Network", "spin-cloud:stores:AwsAppStores", "spin-cloud:stores:LibsqlBackups", ...PLATFORM_COMPONENTS,
                    ...(setting(stack, "loadBalancerProtection") === "true" ? ["spin-cloud:ingress:LoadBalancerLogs"] : []),
                    ...(setting(stack, "exampleApp") === "true" ? ["spin-cloud:apps:SpinApp"] : [])].sort());
                // The mock monitor's URN names the direct parent's type before `$`.
                const topLevel = ["pulumi:pulumi:Stack", "spin-cloud:index:SpinCloud", "spin-cloud:apps:SpinApp"];
                for (const resource of r.resources.filter((x) => !topLevel.includes(x.type))) {
                    assert.match(resource.urn, /::spin-cloud:[a-z]+:[A-Za-z]+\$/, `${resource.name} is not parented to a spin-cloud component`);
                }
            });

            it("exports addresses, the ASG name and ready-to-paste SSM commands", async () => {
                const r = await run(stack);
                const o = r.outputs as Record<string, any>;
                assert.strictEqual(o.vpcId, "spin-cloud-net-vpc-id");
                assert.strictEqual(o.serverPrivateIps.length, Number(setting(stack, "serverCount")));
                // On the operator endpoint, whose certificate names it (test/aws/published-urls.test.ts).
                assert.strictEqual(o.nomadAddress, "https://spin-cloud-operator-nlb-0123456789.elb.mock.amazonaws.com:4646");
                assert.strictEqual(o.consulAddress, "https://spin-cloud-operator-nlb-0123456789.elb.mock.amazonaws.com:8501");
                assert.strictEqual(o.clientAsgName, "spin-cloud-nomad-clients");
                const region = loadStackConfig(stack)["aws:region"];
                const [server] = ofType(r, "aws:ec2/instance:Instance");
                assert.ok(o.operatorCommands.shell.startsWith(`aws ssm start-session --region ${region} --target i-`));
                assert.ok(o.operatorCommands.nomadPortForward.includes(`"portNumber":["4646"]`));
                assert.ok(o.operatorCommands.consulPortForward.includes("--document-name AWS-StartPortForwardingSession"));
                assert.ok(server);
                assert.match(o.caCertPem, /BEGIN CERTIFICATE/);
            });

            it("registers every job through the Nomad provider, after the leader gate, valid against Nomad's job schema", async () => {
                const r = await run(stack);
                const [provider] = ofType(r, "pulumi:providers:nomad");
                assert.match(String(provider.inputs.address), /^https:\/\/.+:4646$/);
                assert.ok(isSecretInput(provider.inputs.secretId), "secretId is a secret");
                assert.match(String(provider.inputs.caPem), /BEGIN CERTIFICATE/);
                const [gate] = r.resources.filter((x) => x.name === "spin-cloud-nomad-leader");
                assert.strictEqual(gate.inputs.address, provider.inputs.address);
                const jobs = ofType(r, "nomad:index/job:Job");
                assert.ok(jobs.length >= PLATFORM_COMPONENTS.length);
                for (const job of jobs) {
                    assert.strictEqual(job.inputs.json, true);
                    const spec = JSON.parse(job.inputs.jobspec as string);
                    assertValidNomadJob(spec.Job, job.name);
                    assert.deepStrictEqual(spec.Job.Datacenters, [setting(stack, "datacenter")]);
                }
                for (const variable of ofType(r, "nomad:index/variable:Variable")) {
                    assert.ok(isSecretInput(variable.inputs.items), `${variable.name} items are secret`);
                }
            });

            it("pushes apps only once the Bindle job is registered (and, with detach: false, deployed)", async () => {
                const r = await run(stack);
                const order = (pred: (x: MockResource) => boolean) => r.resources.findIndex(pred);
                const bindleJob = order((x) => x.type === "nomad:index/job:Job" && x.name === "spin-cloud-bindle");
                assert.ok(bindleJob >= 0, "the Bindle job is registered");
                assert.strictEqual(ofType(r, "nomad:index/job:Job").find((x) => x.name === "spin-cloud-bindle")!.inputs.detach, false);
                const pushes = r.resources.map((x, i) => [x, i] as const).filter(([x]) => x.type.endsWith(":BindlePush"));
                assert.strictEqual(pushes.length > 0, String(setting(stack, "exampleApp")) === "true", "the example app is pushed when deployed");
                for (const [push, i] of pushes) assert.ok(i > bindleJob, `${push.name} is registered after the Bindle job`);
            });

            it("evaluates to byte-identical resource inputs twice", async () => {
                const first = await run(stack);
                const second = await evaluateStack(stack, spinCloudProgram);
                // Registration order depends on promise timing; the inputs of each resource must not.
                const inputs = (x: MockRun) => JSON.stringify(x.resources.map((res) => [res.type, res.name, res.inputs])
                    .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`)));
                assert.strictEqual(inputs(second), inputs(first));
            });
        });
    }
});

describe("bad stack config stops before anything is registered", () => {
    const cases: [Record<string, string>, RegExp][] = [
        [{ serverCount: "4" }, /spin-cloud:serverCount = 4 .*odd number/],
        [{ serverCount: "1" }, /spin-cloud:serverCount = 1 .*odd number/],
        [{ clientMinSize: "5", clientMaxSize: "3" }, /spin-cloud:clientMinSize = 5 .*at most/],
        [{ availabilityZoneCount: "1" }, /spin-cloud:availabilityZoneCount = 1 .*from 2 to 6/],
        [{ vpcCidr: "10.0.0.0/33" }, /spin-cloud:vpcCidr = "10.0.0.0\/33"/],
        [{ architecture: "sparc" }, /spin-cloud:architecture = "sparc" .*'arm64', 'x86_64'/],
        [{ serverCont: "3" }, /spin-cloud:serverCont .*known settings/],
        [{ appsDomain: "apps.example.com" }, /spin-cloud:hostedZoneId = "" .*zone id of apps.example.com/],
        [{ hostedZoneId: "Z0123456789ABC" }, /spin-cloud:appsDomain = "" .*hosted zone Z0123456789ABC/],
        [{ operatorCidrs: '["0.0.0.0/0"]' }, /spin-cloud:operatorCidrs = "0.0.0.0\/0" .*never open to the internet/],
        [{ operatorCidrs: '["10.1.2.0/33"]' }, /spin-cloud:operatorCidrs = "10.1.2.0\/33" .*CIDR form/],
        [{ expectedVersions: '["traefik@2.11.0"]' }, /spin-cloud:expectedVersions = "traefik@2.11.0" .*the only traefik version/],
    ];
    for (const [config, message] of cases) {
        it(`rejects ${JSON.stringify(config)}`, async () => {
            await assert.rejects(evaluateStack("dev", spinCloudProgram, { config }), message);
            assert.deepStrictEqual(lastRegistered().filter((x) => x.type !== "pulumi:pulumi:Stack"), []);
        });
    }
});
