/**
 * The one Pulumi mocks module of the test suite. `setMocks` replaces whatever mocks were set
 * before, so every test file evaluates programs through `evaluateStack` here.
 *
 * Mocks return deterministic, recognisable values for what providers compute (keys, tokens,
 * certificates, IPs); every secret a mock invents is remembered in `MockRun.secretValues` so the
 * hygiene tests can look for it everywhere.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./stack-config";

export const PROJECT = "spin-cloud";

/** Pulumi's marker for a secret value crossing the RPC boundary. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export interface MockResource {
    readonly type: string;
    readonly name: string;
    /** URN as the mock monitor built it: its type part carries the parent chain. */
    urn: string;
    /** False for component resources. */
    readonly custom: boolean;
    readonly inputs: Record<string, unknown>;
    readonly state: Record<string, unknown>;
}

export interface MockRun {
    readonly stack: string;
    readonly resources: MockResource[];
    readonly outputs: Record<string, unknown>;
    /** Every secret value a mock provider invented (keys, tokens, private keys). */
    readonly secretValues: string[];
    readonly calls: { token: string; inputs: Record<string, unknown> }[];
    /** URN → the id the mock monitor gave it, read right after the run (the monitor is reset by the next one). */
    readonly ids?: Readonly<Record<string, string | null>>;
}

function digest(text: string, length = 64): string {
    return crypto.createHash("sha256").update(text).digest("hex").slice(0, length);
}

function uuidFrom(text: string): string {
    const h = digest(text, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function pem(kind: string, body: string): string {
    return `-----BEGIN ${kind}-----\n${Buffer.from(body).toString("base64")}\n-----END ${kind}-----\n`;
}

class Recorder implements pulumi.runtime.Mocks {
    resources: MockResource[] = [];
    secretValues: string[] = [];
    calls: { token: string; inputs: Record<string, unknown> }[] = [];

    private secret(value: string): string {
        this.secretValues.push(value);
        return value;
    }

    private computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
        switch (type) {
            case "random:index/randomBytes:RandomBytes": {
                const bytes = crypto.createHash("sha256").update(`gossip:${name}`).digest();
                return { base64: this.secret(bytes.toString("base64")), hex: this.secret(bytes.toString("hex")) };
            }
            case "random:index/randomUuid:RandomUuid":
                return { result: this.secret(uuidFrom(`token:${name}`)) };
            case "random:index/randomPassword:RandomPassword":
                return {
                    result: this.secret(`mock-password-${digest(name, 24)}`),
                    bcryptHash: this.secret(`$2a$10$${digest(`bcrypt:${name}`, 53)}`),
                };
            case "tls:index/privateKey:PrivateKey":
                return {
                    privateKeyPem: this.secret(pem("PRIVATE KEY", `mock private key ${name}`)),
                    publicKeyPem: pem("PUBLIC KEY", `mock public key ${name}`),
                };
            case "tls:index/selfSignedCert:SelfSignedCert":
            case "tls:index/locallySignedCert:LocallySignedCert":
                return { certPem: pem("CERTIFICATE", `mock certificate ${name}`) };
            case "tls:index/certRequest:CertRequest":
                return { certRequestPem: pem("CERTIFICATE REQUEST", `mock request ${name}`) };
            case "aws:ec2/instance:Instance": {
                // From the name, not the registration order: servers register one after another's
                // roll gate, in an order that may differ between two evaluations.
                const n = /-(\d+)$/.exec(name)?.[1];
                const third = n !== undefined ? Number(n) + 1 : (parseInt(digest(name, 4), 16) % 200) + 50;
                return { privateIp: `10.0.${third}.10`, arn: `arn:aws:ec2:mock:instance/${name}` };
            }
            case "aws:kms/key:Key":
                return { arn: `arn:aws:kms:eu-west-1:123456789012:key/${uuidFrom(name)}`, keyId: uuidFrom(name) };
            case "aws:lb/loadBalancer:LoadBalancer":
                return { arn: `arn:aws:elasticloadbalancing:mock:loadbalancer/${name}`, dnsName: `${name}-0123456789.elb.mock.amazonaws.com`, zoneId: "ZMOCKELB" };
            case "aws:s3/bucket:Bucket": {
                const bucket = `${inputs.bucketPrefix ?? `${name}-`}${digest(name, 8)}`;
                return { bucket, arn: `arn:aws:s3:::${bucket}` };
            }
            case "aws:ec2/launchTemplate:LaunchTemplate":
                return { latestVersion: 1, arn: `arn:aws:ec2:mock:launch-template/${name}` };
            case "aws:dynamodb/table:Table":
                return { arn: `arn:aws:dynamodb:eu-west-1:123456789012:table/${inputs.name ?? name}`, name: inputs.name ?? name };
            case "aws:iam/accessKey:AccessKey":
                // The id of an access key is its access key id; the secret is what must never leak.
                return { secret: this.secret(`mock-aws-secret-${digest(`access-key:${name}`, 32)}`), status: "Active" };
            default:
                return { arn: `arn:aws:mock:${type}:${name}`, name: inputs.name ?? name };
        }
    }

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, any> } {
        const state = { ...args.inputs, ...this.computed(args.type, args.name, args.inputs) };
        this.resources.push({ type: args.type, name: args.name, urn: "", custom: args.custom ?? true, inputs: args.inputs, state });
        const id = args.type === "aws:ec2/instance:Instance" ? `i-${digest(args.name, 17)}`
            // An access key id's shape (AKIA + 16), so the secret scans recognise one that leaks.
            : args.type === "aws:iam/accessKey:AccessKey" ? `AKIA${digest(`access-key-id:${args.name}`, 16).toUpperCase()}` : `${args.name}-id`;
        return { id, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.calls.push({ token: args.token, inputs: args.inputs });
        switch (args.token) {
            case "aws:index/getAvailabilityZones:getAvailabilityZones":
                return { names: ["a", "b", "c", "d"].map((z) => `mock-1${z}`), zoneIds: ["z1", "z2", "z3", "z4"], id: "zones" };
            case "aws:ssm/getParameter:getParameter":
                return { ...args.inputs, value: `ami-${digest(String(args.inputs.name), 17)}`, type: "String", arn: "arn:aws:ssm:mock" };
            case "aws:index/getCallerIdentity:getCallerIdentity":
                return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/mock", userId: "mock", id: "123456789012" };
            case "aws:index/getPartition:getPartition":
                return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
            case "aws:elb/getServiceAccount:getServiceAccount":
                return { arn: "arn:aws:iam::156460612806:root", id: "156460612806" };
            case "aws:index/getRegion:getRegion":
                return { name: "eu-west-1", region: "eu-west-1", id: "eu-west-1" };
            default:
                return args.inputs;
        }
    }
}

const recorder = new Recorder();

export interface EvaluateOptions {
    /** Config overrides on top of the stack file, keys with or without the `spin-cloud:` prefix. */
    readonly config?: Record<string, string>;
    /** Evaluate as `pulumi preview` (unknown outputs stay unknown). Default false. */
    readonly preview?: boolean;
}

/**
 * Evaluates `program` as stack `stack` under mocks: config from Pulumi.yaml defaults and
 * `stacks/Pulumi.<stack>.yaml` (what the real engine does, and mocks do not), then waits for
 * every registration. `program` is called inside the run, so no module caching gets in the way.
 */
export async function evaluateStack(stack: string, program: () => Record<string, unknown>, options: EvaluateOptions = {}): Promise<MockRun> {
    const config: Record<string, string> = { ...loadStackConfig(stack) };
    for (const [key, value] of Object.entries(options.config ?? {})) {
        config[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    }
    pulumi.runtime.setAllConfig(config);
    recorder.resources = [];
    recorder.secretValues = [];
    recorder.calls = [];
    await pulumi.runtime.setMocks(recorder, PROJECT, stack, options.preview ?? false);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const settings = require("@pulumi/pulumi/runtime/settings");
    let outputs: unknown;
    try {
        outputs = await pulumi.runtime.runInPulumiStack(async () => program());
    } catch (error) {
        // Let what was registered before the failure reach the recorder, for lastRegistered().
        // Bounded: registrations waiting on the output that failed never finish.
        await Promise.race([settings.waitForRPCs().catch(() => undefined), new Promise((done) => setTimeout(done, 1000))]);
        throw error;
    }
    await settings.waitForRPCs();
    const monitored = settings.getMonitor().resources as Map<string, { id: string | null }>;
    const urns: string[] = [...monitored.keys()];
    for (const resource of recorder.resources) {
        resource.urn = urns.find((urn) => urn.endsWith(`${resource.type}::${resource.name}`)) ?? "";
    }
    return {
        stack,
        resources: [...recorder.resources],
        outputs: (outputs ?? {}) as Record<string, unknown>,
        secretValues: [...recorder.secretValues],
        calls: [...recorder.calls],
        ids: Object.fromEntries([...monitored].map(([urn, r]) => [urn, r.id])),
    };
}

/** Resources registered by the last evaluation, even one that failed. */
export function lastRegistered(): readonly MockResource[] {
    return [...recorder.resources];
}

/** True when `value` reached the mock as a Pulumi secret. */
export function isSecretInput(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** Replaces every wrapped secret by its plain value. */
export function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(unwrapSecrets);
    }
    if (typeof value === "object" && value !== null) {
        if (isSecretInput(value)) {
            return unwrapSecrets((value as Record<string, unknown>).value);
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** Resources of one type token. */
export function ofType(run: MockRun, type: string): MockResource[] {
    return run.resources.filter((r) => r.type === type);
}
