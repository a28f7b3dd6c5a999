import * as assert from "assert";
import { cidrContains, parseIpv4Cidr, planSubnets } from "../../components/settings/cidr";
import { LOCAL_SETTINGS, SHARED_SETTING_KEYS, checkTargetKeys } from "../../components/settings/local-config";
import { ConfigError, SETTINGS, argsFromConfig, defaults, instanceTypeArchitecture, rejectUnknownKeys, resolveSpinCloudArgs } from "../../components/settings/config";
import { shippedStackConfig } from "../harness/stack-config";
import { NOT_SET, setByStack } from "../../components/settings/project-config";
import { evaluateStack, lastRegistered } from "../harness/mocks";
import { spinCloudProgram } from "../../components/program";
import { PINNED_VERSIONS } from "../../provisioning/versions";

/** The smallest valid arguments: every setting has a default except the operators' networks. */
const BASE = { operatorCidrs: ["172.20.0.0/24"] };

function rejects(args: Record<string, unknown>, key: string, valuePart: string, allowedPart: RegExp) {
    assert.throws(() => resolveSpinCloudArgs({ ...BASE, ...args }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
        assert.strictEqual(err.key, key);
        assert.ok(err.message.includes(`spin-cloud:${key}`), err.message);
        assert.ok(err.message.includes(valuePart), err.message);
        assert.match(err.message, allowedPart);
        return true;
    });
}

describe("settings validation", () => {
    it("accepts the defaults unchanged once operator networks are given", () => {
        assert.deepStrictEqual(resolveSpinCloudArgs(BASE), { ...defaults(), ...BASE });
    });

    it("requires operator networks, never the internet", () => {
        rejects({ operatorCidrs: [] }, "operatorCidrs", "[]", /at least one IPv4 CIDR/);
        rejects({ operatorCidrs: ["0.0.0.0/0"] }, "operatorCidrs", "0.0.0.0/0", /never open to the internet/);
        rejects({ operatorCidrs: ["10.0.0.0/8", "64.0.0.0/2"] }, "operatorCidrs", "64.0.0.0/2", /\/8 or narrower/);
        rejects({ operatorCidrs: ["203.0.113.7"] }, "operatorCidrs", "203.0.113.7", /CIDR form/);
        rejects({ operatorCidrs: ["203.0.113.7/24"] }, "operatorCidrs", "203.0.113.7/24", /zero host bits/);
    });

    it("refuses the RFC 5737 documentation ranges, saying to set your own network", () => {
        for (const [cidr, range] of [["192.0.2.0/24", "192.0.2.0/24"], ["198.51.100.0/24", "198.51.100.0/24"],
            ["203.0.113.0/24", "203.0.113.0/24"], ["203.0.113.10/32", "203.0.113.0/24"], ["198.51.100.128/25", "198.51.100.0/24"]]) {
            rejects({ operatorCidrs: ["172.20.0.0/24", cidr] }, "operatorCidrs", cidr,
                new RegExp(`your own network, not the documentation range ${range.replace(/\./g, "\\.")} \\(RFC 5737\\).*pulumi config set --path 'spin-cloud:operatorCidrs\\[0\\]'`));
        }
        // Neighbours of the ranges, and a wider network that merely contains one, are real networks.
        for (const cidr of ["192.0.3.0/24", "198.51.101.0/24", "203.0.112.0/24", "203.0.0.0/16", "192.0.0.0/8"]) {
            assert.deepStrictEqual(resolveSpinCloudArgs({ operatorCidrs: [cidr] }).operatorCidrs, [cidr]);
        }
    });

    for (const stack of ["dev", "prod"]) {
        it(`stops \`pulumi preview --stack ${stack}\` as shipped, before anything is created, until the operator network is set`, async () => {
            const shipped = shippedStackConfig(stack)["spin-cloud:operatorCidrs"];
            await assert.rejects(evaluateStack(stack, spinCloudProgram, { preview: true, config: { operatorCidrs: shipped } }),
                /spin-cloud:operatorCidrs = "(198\.51\.100|203\.0\.113)\.\d+\/\d+" is not allowed: your own network, not the documentation range/);
            assert.deepStrictEqual(lastRegistered().filter((r) => r.type.startsWith("aws:")), []);
        });
    }

    it("requires a domain and its hosted zone together", () => {
        rejects({ appsDomain: "apps.example.com" }, "hostedZoneId", '""', /Route 53 zone id of apps.example.com/);
        rejects({ hostedZoneId: "Z0123456789ABC" }, "appsDomain", '""', /domain that hosted zone Z0123456789ABC serves/);
        rejects({ appsDomain: "Apps.Example.com", hostedZoneId: "Z0123456789ABC" }, "appsDomain", "Apps.Example.com", /lowercase DNS name/);
        rejects({ appsDomain: "apps.example.com", hostedZoneId: "zone-1" }, "hostedZoneId", "zone-1", /hosted zone id/);
        const ok = resolveSpinCloudArgs({ ...BASE, appsDomain: "apps.example.com", hostedZoneId: "Z0123456789ABC" });
        assert.strictEqual(ok.appsDomain, "apps.example.com");
    });

    it("rejects an even or too small server count", () => {
        rejects({ serverCount: 4 }, "serverCount", "4", /odd number from 3 to 9/);
        rejects({ serverCount: 1 }, "serverCount", "1", /odd number/);
        rejects({ serverCount: 2.5 }, "serverCount", "2.5", /odd number/);
        assert.strictEqual(resolveSpinCloudArgs({ ...BASE, serverCount: 5 }).serverCount, 5);
    });

    it("rejects client min above max and desired outside the bounds", () => {
        rejects({ clientMinSize: 5, clientMaxSize: 3, clientDesiredSize: 3 }, "clientMinSize", "5", /at most spin-cloud:clientMaxSize \(3\)/);
        rejects({ clientMinSize: 2, clientMaxSize: 3, clientDesiredSize: 4 }, "clientDesiredSize", "4", /from 2 to 3/);
    });

    it("rejects fewer than two availability zones", () => {
        rejects({ availabilityZoneCount: 1 }, "availabilityZoneCount", "1", /from 2 to 6/);
        rejects({ availabilityZoneCount: 7 }, "availabilityZoneCount", "7", /from 2 to 6/);
    });

    it("rejects invalid CIDRs", () => {
        for (const bad of ["10.0.0.0", "10.0.0.0/33", "300.1.1.0/16", "10.0.0.1/16", "10.0.0.0/8", "10.0.0.0/26", "banana"]) {
            rejects({ vpcCidr: bad }, "vpcCidr", JSON.stringify(bad), /CIDR form from \/16 to \/24/);
        }
    });

    it("rejects an unknown architecture and instance types of the other architecture", () => {
        rejects({ architecture: "riscv64" }, "architecture", "riscv64", /'arm64', 'x86_64'/);
        rejects({ serverInstanceType: "m7i.large" }, "serverInstanceType", "m7i.large", /arm64 instance type/);
        rejects({ architecture: "x86_64", clientInstanceType: "m7i.large" }, "serverInstanceType", "t4g.medium", /x86_64 instance type/);
        rejects({ clientInstanceType: "large" }, "clientInstanceType", "large", /EC2 instance type/);
        const x86 = resolveSpinCloudArgs({ ...BASE, architecture: "x86_64", serverInstanceType: "t3.medium", clientInstanceType: "m7i.large" });
        assert.strictEqual(x86.architecture, "x86_64");
    });

    it("rejects unknown NAT modes and names unfit for TLS names", () => {
        rejects({ natGateways: "none" }, "natGateways", "none", /'single', 'perAz'/);
        rejects({ datacenter: "DC_1" }, "datacenter", "DC_1", /lowercase letters/);
        rejects({ rootVolumeSizeGb: 8 }, "rootVolumeSizeGb", "8", /from 20 to 1000/);
    });

    it("takes the libSQL signing key generation as an integer of 1 or more, from stack config as text", () => {
        assert.strictEqual(resolveSpinCloudArgs(BASE).libsqlSigningKeyGeneration, 1);
        assert.strictEqual(resolveSpinCloudArgs({ ...BASE, libsqlSigningKeyGeneration: 7 }).libsqlSigningKeyGeneration, 7);
        rejects({ libsqlSigningKeyGeneration: 0 }, "libsqlSigningKeyGeneration", "0", /an integer of 1 or more/);
        rejects({ libsqlSigningKeyGeneration: 1.5 }, "libsqlSigningKeyGeneration", "1.5", /an integer of 1 or more/);
        rejects({ libsqlSigningKeyGeneration: "2" }, "libsqlSigningKeyGeneration", '"2"', /an integer of 1 or more/);
        assert.deepStrictEqual(argsFromConfig((k) => (k === "libsqlSigningKeyGeneration" ? "2" : undefined)), { libsqlSigningKeyGeneration: 2 });
        assert.throws(() => argsFromConfig((k) => (k === "libsqlSigningKeyGeneration" ? "1.5" : undefined)),
            /spin-cloud:libsqlSigningKeyGeneration = "1.5" is not allowed: an integer/);
    });

    it("parses lists from stack config and names a value that is not one", () => {
        const values: Record<string, string> = { operatorCidrs: '["203.0.113.7/32"]' };
        assert.deepStrictEqual(argsFromConfig((k) => values[k]), { operatorCidrs: ["203.0.113.7/32"] });
        assert.throws(() => argsFromConfig((k) => (k === "operatorCidrs" ? "203.0.113.7/32" : undefined)),
            /spin-cloud:operatorCidrs = "203.0.113.7\/32" is not allowed: a list of strings/);
    });

    it("parses integers from stack config and names a non-number", () => {
        const values: Record<string, string> = { serverCount: "5", vpcCidr: "10.1.0.0/16" };
        assert.deepStrictEqual(argsFromConfig((k) => values[k]), { serverCount: 5, vpcCidr: "10.1.0.0/16" });
        assert.throws(() => argsFromConfig((k) => (k === "clientMaxSize" ? "many" : undefined)),
            /spin-cloud:clientMaxSize = "many" is not allowed: an integer/);
    });

    it("accepts expected versions equal to the pins, and only those", () => {
        const all = Object.entries(PINNED_VERSIONS).map(([product, version]) => `${product}@${version}`);
        assert.deepStrictEqual(resolveSpinCloudArgs({ ...BASE, expectedVersions: all }).expectedVersions, all);
        assert.doesNotThrow(() => resolveSpinCloudArgs({ ...BASE, expectedVersions: [`nomad@v${PINNED_VERSIONS.nomad}`] }));
        rejects({ expectedVersions: ["nomad@1.10.0"] }, "expectedVersions", "nomad@1.10.0", new RegExp(`nomad@${PINNED_VERSIONS.nomad.replace(/\./g, "\\.")}, the only nomad version`));
        rejects({ expectedVersions: ["vault@1.0.0"] }, "expectedVersions", "vault@1.0.0", /product one of nomad, consul, spin, traefik, bindle/);
        rejects({ expectedVersions: ["nomad"] }, "expectedVersions", "nomad", /'<product>@<version>'/);
        rejects({ expectedVersions: [`spin@${PINNED_VERSIONS.spin}`, `spin@${PINNED_VERSIONS.spin}`] }, "expectedVersions", "spin@", /spin is named twice/);
    });

    it("classifies Graviton instance families as arm64", () => {
        assert.strictEqual(instanceTypeArchitecture("t4g.small"), "arm64");
        assert.strictEqual(instanceTypeArchitecture("c7gn.large"), "arm64");
        assert.strictEqual(instanceTypeArchitecture("r8gd.xlarge"), "arm64");
        assert.strictEqual(instanceTypeArchitecture("m7i.large"), "x86_64");
        assert.strictEqual(instanceTypeArchitecture("t3a.micro"), "x86_64");
    });

    it("every setting has a type, a default and a description (Pulumi.yaml's are rendered from them)", () => {
        const settings: Record<string, { type: string; default: unknown; description: string }> = { ...SETTINGS, ...LOCAL_SETTINGS };
        for (const [key, setting] of Object.entries(settings)) {
            assert.ok(["integer", "string", "array", "boolean"].includes(setting.type), key);
            assert.notStrictEqual(setting.default, undefined, `${key} has a default`);
            assert.ok(setting.description.length > 10, `${key} has a description`);
        }
    });

    it("hands the program Pulumi.yaml's not-set value for every key the stack leaves out, which setByStack drops", () => {
        const local = shippedStackConfig("local");
        // What the engine hands over (sdk/go/common/workspace/config.go mergeConfig): the declared default.
        assert.strictEqual(local["spin-cloud:serverCount"], NOT_SET.string);
        assert.strictEqual(local["spin-cloud:operatorCidrs"], NOT_SET.array);
        assert.deepStrictEqual(Object.keys(setByStack(local)).filter((k) => k.startsWith("spin-cloud:")).sort(),
            ["spin-cloud:exampleApp", "spin-cloud:localPortOffset", "spin-cloud:target"]);
    });

    it("setByStack keeps every value a stack sets, its real defaults and an empty list included", () => {
        const all = {
            "spin-cloud:serverCount": "3", "spin-cloud:operatorCidrs": "[]", "spin-cloud:expectedVersions": '["nomad@1.0.0"]',
            "spin-cloud:vpcCidr": "", "spin-cloud:natGateways": '[""]', "aws:region": "", "other:list": '[""]',
        };
        assert.deepStrictEqual(setByStack(all), {
            "spin-cloud:serverCount": "3", "spin-cloud:operatorCidrs": "[]", "spin-cloud:expectedVersions": '["nomad@1.0.0"]',
            "aws:region": "", "other:list": '[""]',
        });
    });

    for (const [stack, config, message] of [
        ["local", { serverCount: "3" }, /spin-cloud:serverCount = "3" is not allowed: nothing on target 'local'/],
        ["local", { natGateways: "single", operatorCidrs: "[]" }, /spin-cloud:natGateways = "single" is not allowed: nothing on target 'local'/],
        ["dev", { localPortOffset: "10000" }, /spin-cloud:localPortOffset = "10000" is not allowed: nothing on target 'aws'/],
    ] as const) {
        it(`refuses ${JSON.stringify(config)}, real defaults of the other target, on ${stack} under Pulumi.yaml's declarations`, async () => {
            await assert.rejects(evaluateStack(stack, spinCloudProgram, { config }), message);
            assert.deepStrictEqual(lastRegistered().filter((r) => r.type !== "pulumi:pulumi:Stack"), []);
        });
    }

    it("refuses every setting of the other target that a stack sets, at its default value too", () => {
        const defaultText = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
        const awsOnly = Object.keys(SETTINGS).filter((k) => !(SHARED_SETTING_KEYS as readonly string[]).includes(k));
        for (const key of awsOnly) {
            const value = defaultText((SETTINGS as Record<string, { default: unknown }>)[key].default);
            assert.throws(() => checkTargetKeys("local", { [`spin-cloud:${key}`]: value }),
                (e: Error) => e.message.startsWith(`spin-cloud:${key} = ${JSON.stringify(value)} is not allowed: nothing on target 'local'`));
        }
        for (const key of ["localStateDir", "localCacheDir", "localPortOffset"]) {
            const value = defaultText((LOCAL_SETTINGS as Record<string, { default: unknown }>)[key].default);
            assert.throws(() => checkTargetKeys("aws", { [`spin-cloud:${key}`]: value }), new RegExp(`spin-cloud:${key} = .* nothing on target 'aws'`));
        }
        const shared = Object.fromEntries(SHARED_SETTING_KEYS.map((k) => [`spin-cloud:${k}`, defaultText(SETTINGS[k].default)]));
        assert.doesNotThrow(() => checkTargetKeys("local", { ...shared, "spin-cloud:target": "local", "spin-cloud:localPortOffset": "10000" }));
        assert.doesNotThrow(() => checkTargetKeys("aws", { ...shared, "spin-cloud:serverCount": "3", "aws:region": "eu-west-1" }));
    });
});

describe("subnet plan", () => {
    it("carves disjoint private and public subnets inside the VPC, one per zone", () => {
        const plan = planSubnets("10.40.0.0/16", 3);
        assert.deepStrictEqual(plan.privateSubnets, ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]);
        assert.deepStrictEqual(plan.publicSubnets, ["10.40.128.0/20", "10.40.144.0/20", "10.40.160.0/20"]);
        const vpc = parseIpv4Cidr("10.40.0.0/16")!;
        const all = [...plan.privateSubnets, ...plan.publicSubnets].map((c) => parseIpv4Cidr(c)!);
        for (const [i, a] of all.entries()) {
            assert.ok(cidrContains(vpc, a));
            for (const b of all.slice(i + 1)) {
                assert.ok(!cidrContains(a, b) && !cidrContains(b, a), "subnets overlap");
            }
        }
    });

    it("works for the smallest allowed VPC and the most zones", () => {
        const plan = planSubnets("192.168.4.0/24", 6);
        assert.strictEqual(plan.privateSubnets[5], "192.168.4.80/28");
        assert.strictEqual(plan.publicSubnets[5], "192.168.4.208/28");
    });
});

describe("unknown settings", () => {
    it("names a misspelt spin-cloud key and ignores other namespaces", () => {
        assert.throws(() => rejectUnknownKeys(["aws:region", "spin-cloud:serverCont"]),
            /spin-cloud:serverCont = "\(set\)" is not allowed: an existing setting; known settings are .*serverCount/);
        assert.doesNotThrow(() => rejectUnknownKeys(["aws:region", "spin-cloud:serverCount", "other:thing"]));
    });
});
