/**
 * The Nomad binding against the provider's own schema (pulumi-nomad v2.6.1): every token and
 * property the binding uses exists there, secrets and replace-on-changes are the schema's, and
 * under mocks what actually crosses the RPC boundary carries the plugin version and the secrets.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import {
    ALL_BINDINGS, AclPolicy, AclToken, Job, NOMAD_PROVIDER_VERSION, Namespace, PROVIDER_BINDING, Provider, ResourceBinding,
    Variable, nomadProvider,
} from "../../components/nomad";
import { MockRun, evaluateStack, isSecretInput, ofType, unwrapSecrets } from "../harness/mocks";
import { ROOT } from "../harness/stack-config";

interface SchemaProperty { type?: string; $ref?: string; items?: SchemaProperty; secret?: boolean; willReplaceOnChanges?: boolean; deprecationMessage?: string }
interface SchemaObject { properties?: Record<string, SchemaProperty>; inputProperties?: Record<string, SchemaProperty>; required?: string[]; requiredInputs?: string[] }
interface Schema { name: string; provider: SchemaObject; resources: Record<string, SchemaObject>; types: Record<string, SchemaObject> }

const SCHEMA: Schema = JSON.parse(fs.readFileSync(path.join(ROOT, "test", "schemas", "pulumi-nomad-v2.6.1.schema.json"), "utf8"));
const PROVIDER_TOKEN = `pulumi:providers:${SCHEMA.name}`;

function schemaOf(token: string): SchemaObject {
    const found = token === PROVIDER_TOKEN ? SCHEMA.provider : SCHEMA.resources[token];
    assert.ok(found, `the provider schema has no ${token}`);
    return found;
}

const sorted = (values: Iterable<string>) => [...values].sort();

/** What the SDK sent in each RegisterResource request (the mock monitor sees it before the mocks). */
interface Registration { type: string; name: string; version: string; provider: string; secretOutputs: string[]; replaceOnChanges: string[] }

async function evaluateRecording(program: () => Record<string, unknown>): Promise<{ run: MockRun; registrations: Registration[] }> {
    const registrations: Registration[] = [];
    const proto = MockMonitor.prototype as unknown as { registerResource: (req: any, callback: any) => unknown };
    const original = proto.registerResource;
    proto.registerResource = function (this: unknown, req: any, callback: any) {
        registrations.push({
            type: req.getType(), name: req.getName(), version: req.getVersion(), provider: req.getProvider(),
            secretOutputs: req.getAdditionalsecretoutputsList(), replaceOnChanges: req.getReplaceonchangesList(),
        });
        return original.call(this, req, callback);
    };
    try {
        return { run: await evaluateStack("unit", program), registrations };
    } finally {
        proto.registerResource = original;
    }
}

/** Every class with every input set (the values only need the right shape). */
function everyResource() {
    const provider = new Provider("nomad", {
        address: "https://nomad.example:4646", caPem: "CA PEM", caFile: "/ca.pem", certPem: "CERT", certFile: "/c.pem",
        keyPem: "KEY", keyFile: "/k.pem", secretId: "token", region: "global", httpAuth: "u:p",
        headers: [{ name: "X-Test", value: "v" }], ignoreEnvVars: { NOMAD_TOKEN: true }, skipVerify: false,
        authJwt: { authMethod: "jwt", loginToken: "login" },
    });
    const opts = { provider };
    const job = new Job("job", {
        jobspec: "{\"Job\":{}}", json: true, detach: false, purgeOnDestroy: true, deregisterOnDestroy: true,
        deregisterOnIdChange: true, policyOverride: false, preserveCounts: false, rerunIfDead: false,
        hcl2: { allowFs: false, vars: { a: "b" } },
    }, opts);
    const policy = new AclPolicy("policy", {
        name: "apps", rulesHcl: "namespace \"default\" {}", description: "d",
        jobAcl: { jobId: "traefik", namespace: "default", group: "g", task: "t" },
    }, opts);
    const token = new AclToken("token", {
        type: "client", name: "apps", policies: ["apps"], roles: [{ id: "r" }], global: false, expirationTtl: "1h",
    }, opts);
    const namespace = new Namespace("namespace", {
        name: "apps", description: "d", meta: { a: "b" }, quota: "q",
        capabilities: { enabledTaskDrivers: ["exec"], disabledTaskDrivers: ["docker"], enabledNetworkModes: ["host"], disabledNetworkModes: ["cni"] },
        nodePoolConfig: { alloweds: ["default"], default: "default" }, consulConfig: { denieds: ["x"] }, vaultConfig: { default: "v" },
    }, opts);
    const variable = new Variable("variable", { path: "nomad/jobs/traefik", items: { token: "plain" }, namespace: "default" }, opts);
    return { provider, job, policy, token, namespace, variable };
}

describe("Nomad binding against the provider schema", () => {
    it("is the schema of pulumi-resource-nomad, and the binding pins that version", () => {
        assert.strictEqual(SCHEMA.name, "nomad");
        assert.strictEqual(NOMAD_PROVIDER_VERSION, "2.6.1");
        assert.strictEqual(PROVIDER_BINDING.token, PROVIDER_TOKEN);
    });

    for (const binding of ALL_BINDINGS) {
        describe(binding.token, () => {
            const schema = schemaOf(binding.token);
            const inputs = schema.inputProperties ?? {};
            const properties = schema.properties ?? {};
            const used = [...binding.inputs, ...binding.outputs];
            const propertyOf = (name: string) => inputs[name] ?? properties[name];

            it("uses only input and output properties the provider has", () => {
                assert.deepStrictEqual(binding.inputs.filter((p) => !(p in inputs)), [], "unknown inputs");
                assert.deepStrictEqual(binding.outputs.filter((p) => !(p in properties)), [], "unknown outputs");
                assert.deepStrictEqual(binding.outputs.filter((p) => binding.inputs.includes(p)), [], "outputs listed as inputs");
                assert.deepStrictEqual(binding.inputs.filter((p) => inputs[p].deprecationMessage), [], "deprecated inputs");
            });

            it("requires what the provider requires", () => {
                assert.deepStrictEqual((schema.requiredInputs ?? []).filter((p) => !binding.required.includes(p)), []);
                assert.deepStrictEqual(binding.required.filter((p) => !binding.inputs.includes(p)), []);
            });

            it("treats exactly the schema's secret properties as secrets", () => {
                assert.deepStrictEqual(sorted(binding.secrets), sorted(used.filter((p) => propertyOf(p).secret)));
            });

            it("replaces on exactly the inputs the schema marks willReplaceOnChanges", () => {
                assert.deepStrictEqual(sorted(binding.replaceOnChanges), sorted(binding.inputs.filter((p) => inputs[p].willReplaceOnChanges)));
            });

            it("types nested objects with the schema's type tokens and property names", () => {
                for (const [property, type] of Object.entries(binding.objectTypes)) {
                    assert.ok(binding.inputs.includes(property), `${property} is not an input of the binding`);
                    const ref = inputs[property].$ref ?? inputs[property].items?.$ref;
                    assert.strictEqual(ref, `#/types/${type.token}`, property);
                    const schemaType = SCHEMA.types[type.token];
                    assert.ok(schemaType?.properties, `no type ${type.token}`);
                    assert.deepStrictEqual(type.properties.filter((p) => !(p in schemaType.properties!)), [], `${type.token}: unknown properties`);
                    assert.deepStrictEqual((schemaType.required ?? []).filter((p) => !type.properties.includes(p)), [], `${type.token}: required left out`);
                }
                const untyped = binding.inputs.filter((p) => (inputs[p].$ref ?? inputs[p].items?.$ref) && !(p in binding.objectTypes));
                assert.deepStrictEqual(untyped, [], "object-typed inputs without a type binding");
            });
        });
    }

    it("JSON-encodes exactly the provider's non-string inputs, as generated SDKs do", () => {
        const inputs = SCHEMA.provider.inputProperties!;
        assert.deepStrictEqual(sorted(PROVIDER_BINDING.jsonEncoded ?? []), sorted(PROVIDER_BINDING.inputs.filter((p) => inputs[p].type !== "string")));
        assert.ok(ALL_BINDINGS.filter((b) => b !== PROVIDER_BINDING).every((b) => b.jsonEncoded === undefined));
    });
});

describe("Nomad binding under mocks", () => {
    let recorded: { run: MockRun; registrations: Registration[] };
    before(async () => {
        recorded = await evaluateRecording(() => {
            const all = everyResource();
            return { jobName: all.job.name };
        });
    });

    const nomadRegistrations = () => recorded.registrations.filter((r) => r.type.startsWith("nomad:") || r.type === PROVIDER_TOKEN);

    it("registers only type tokens and input properties the provider has", () => {
        const nomad = recorded.run.resources.filter((r) => r.type.startsWith("nomad:") || r.type === PROVIDER_TOKEN);
        assert.deepStrictEqual(sorted(new Set(nomad.map((r) => r.type))), sorted(ALL_BINDINGS.map((b: ResourceBinding) => b.token)));
        for (const resource of nomad) {
            const schema = schemaOf(resource.type);
            const unknown = Object.keys(resource.inputs).filter((k) => !(k in schema.inputProperties!));
            assert.deepStrictEqual(unknown, [], `${resource.type} registered unknown inputs`);
            for (const [property, value] of Object.entries(unwrapSecrets(resource.inputs) as Record<string, unknown>)) {
                const ref = schema.inputProperties![property].$ref ?? schema.inputProperties![property].items?.$ref;
                if (!ref || resource.type === PROVIDER_TOKEN) {
                    continue;
                }
                const typeProperties = SCHEMA.types[ref.replace("#/types/", "")].properties!;
                for (const element of Array.isArray(value) ? value : [value]) {
                    const extra = Object.keys(element as object).filter((k) => !(k in typeProperties));
                    assert.deepStrictEqual(extra, [], `${resource.type}.${property}`);
                }
            }
        }
    });

    it("sends the plugin version 2.6.1 with the provider and every resource", () => {
        const nomad = nomadRegistrations();
        assert.strictEqual(nomad.length, ALL_BINDINGS.length);
        for (const registration of nomad) {
            assert.strictEqual(registration.version, NOMAD_PROVIDER_VERSION, `${registration.type} ${registration.name}`);
        }
    });

    it("registers every Nomad resource with the explicit provider", () => {
        const providerUrn = recorded.run.resources.find((r) => r.type === PROVIDER_TOKEN)!.urn;
        for (const registration of nomadRegistrations().filter((r) => r.type !== PROVIDER_TOKEN)) {
            assert.ok(registration.provider.startsWith(`${providerUrn}::`), `${registration.type}: ${registration.provider}`);
        }
    });

    it("passes secretId, keyPem, httpAuth, headers and Variable items as secrets, and declares secret outputs", () => {
        const [provider] = ofType(recorded.run, PROVIDER_TOKEN);
        for (const key of ["secretId", "keyPem", "httpAuth", "headers"]) {
            assert.ok(isSecretInput(provider.inputs[key]), `provider ${key} is not secret`);
        }
        assert.ok(!isSecretInput(provider.inputs.caPem) && !isSecretInput(provider.inputs.address));
        const [variable] = ofType(recorded.run, "nomad:index/variable:Variable");
        assert.ok(isSecretInput(variable.inputs.items), "Variable items reach the provider as a secret");
        const secretOutputs = Object.fromEntries(nomadRegistrations().map((r) => [r.type, sorted(r.secretOutputs)]));
        assert.deepStrictEqual(secretOutputs["nomad:index/variable:Variable"], ["items"]);
        assert.deepStrictEqual(secretOutputs["nomad:index/aclToken:AclToken"], ["secretId"]);
        assert.deepStrictEqual(secretOutputs[PROVIDER_TOKEN], ["headers", "httpAuth", "keyPem", "secretId"]);
        assert.deepStrictEqual(secretOutputs["nomad:index/job:Job"], []);
    });

    it("JSON-encodes the provider's non-string configuration and keeps strings as they are", () => {
        const [provider] = ofType(recorded.run, PROVIDER_TOKEN);
        const inputs = unwrapSecrets(provider.inputs) as Record<string, unknown>;
        assert.strictEqual(inputs.skipVerify, "false");
        assert.strictEqual(inputs.ignoreEnvVars, JSON.stringify({ NOMAD_TOKEN: true }));
        assert.strictEqual(inputs.headers, JSON.stringify([{ name: "X-Test", value: "v" }]));
        assert.strictEqual(inputs.authJwt, JSON.stringify({ authMethod: "jwt", loginToken: "login" }));
        assert.strictEqual(inputs.address, "https://nomad.example:4646");
    });

    it("sends replaceOnChanges as the schema marks it", () => {
        const replace = Object.fromEntries(nomadRegistrations().map((r) => [r.type, sorted(r.replaceOnChanges)]));
        assert.deepStrictEqual(replace["nomad:index/variable:Variable"], ["namespace", "path"]);
        assert.deepStrictEqual(replace["nomad:index/aclToken:AclToken"], ["expirationTtl", "global"]);
    });

    it("registers a Job's jobspec and json flag as given, and exposes declared outputs", async () => {
        let job: Job | undefined;
        const { run } = await evaluateRecording(() => {
            job = new Job("j", { jobspec: "{\"Job\":{\"ID\":\"x\"}}", json: true });
            return {};
        });
        const [registered] = ofType(run, "nomad:index/job:Job");
        assert.deepStrictEqual(registered.inputs, { jobspec: "{\"Job\":{\"ID\":\"x\"}}", json: true });
        assert.ok(pulumi.Output.isInstance(job!.name) && pulumi.Output.isInstance(job!.modifyIndex));
    });

    it("refuses a resource without a required input", () => {
        assert.throws(() => new Job("j", {} as never), /nomad:index\/job:Job: missing required property 'jobspec'/);
        assert.throws(() => new Variable("v", {} as never), /missing required property 'path'/);
    });
});

describe("nomadProvider", () => {
    it("configures address, CA, region and the management token as a secret", async () => {
        const { run, registrations } = await evaluateRecording(() => {
            nomadProvider("cluster", { address: pulumi.output("https://ops.example:4646"), caPem: "CA", secretId: "plain-token", region: "global" });
            return {};
        });
        const [provider] = ofType(run, PROVIDER_TOKEN);
        assert.ok(isSecretInput(provider.inputs.secretId), "secretId reaches the provider as a secret");
        assert.deepStrictEqual(unwrapSecrets(provider.inputs), {
            address: "https://ops.example:4646", caPem: "CA", secretId: "plain-token", region: "global",
            // The user's NOMAD_NAMESPACE, NOMAD_REGION and NOMAD_SKIP_VERIFY are ignored (PROVIDER_ENV_ISOLATION).
            ignoreEnvVars: '{"NOMAD_NAMESPACE":true,"NOMAD_REGION":true}', skipVerify: "false",
        });
        assert.strictEqual(registrations.find((r) => r.type === PROVIDER_TOKEN)!.version, "2.6.1");
    });

    it("refuses an address that is not https, except plain HTTP to 127.0.0.1 (the local target)", () => {
        assert.throws(() => nomadProvider("p", { address: "http://ops.example:4646", caPem: "CA", secretId: "t" }), /must be an https:\/\/ URL/);
        assert.throws(() => nomadProvider("p", { address: "http://localhost.example.com:4646", secretId: "t" }), /must be an https:\/\/ URL/);
        assert.throws(() => nomadProvider("p", { address: "http://127.0.0.1:4646/evil", secretId: "t" }), /must be an https:\/\/ URL/);
        assert.doesNotThrow(() => nomadProvider("p", { address: "http://127.0.0.1:14646", secretId: "t" }));
    });
});
