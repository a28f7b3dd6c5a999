/**
 * The Nomad provider resource (`pulumi:providers:nomad`, plugin `pulumi-resource-nomad`
 * 2.6.1) and `nomadProvider`, which configures it from the cluster's outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { NOMAD_PACKAGE, ResourceBinding, keysOf, registration } from "./binding";

/** One HTTP header sent with every Nomad request (schema type `ProviderHeader`). */
export interface ProviderHeader {
    /** Header name. */
    name: pulumi.Input<string>;
    /** Header value (secret). */
    value: pulumi.Input<string>;
}

/** Login through a Nomad JWT auth method (schema type `ProviderAuthJwt`). */
export interface ProviderAuthJwt {
    /** Name of the auth method to log in with. */
    authMethod: pulumi.Input<string>;
    /** The externally issued token exchanged for a Nomad ACL token (secret). */
    loginToken: pulumi.Input<string>;
}

/** Configuration of the Nomad provider; names as in the schema's provider `inputProperties`. */
export interface ProviderArgs {
    /**
     * URL of the Nomad HTTP API root, e.g. `https://<operator endpoint>:4646`. Optional in the
     * schema (the plugin falls back to `NOMAD_ADDR`); required here so no environment leaks in.
     */
    address: pulumi.Input<string>;
    /** PEM of the CA that verifies the Nomad agent's certificate. */
    caPem?: pulumi.Input<string>;
    /** Path of a PEM CA file; prefer `caPem`. */
    caFile?: pulumi.Input<string>;
    /** PEM client certificate presented to the agent (needs `keyPem` or `keyFile`). */
    certPem?: pulumi.Input<string>;
    /** Path of a PEM client certificate. */
    certFile?: pulumi.Input<string>;
    /** PEM private key of the client certificate (secret). */
    keyPem?: pulumi.Input<string>;
    /** Path of the client certificate's private key. */
    keyFile?: pulumi.Input<string>;
    /** ACL token secret sent with every request (secret). */
    secretId?: pulumi.Input<string>;
    /** Nomad region of the target agent. */
    region?: pulumi.Input<string>;
    /** HTTP basic auth, `user:password` (secret). */
    httpAuth?: pulumi.Input<string>;
    /** Headers sent with every request (secret). */
    headers?: pulumi.Input<pulumi.Input<ProviderHeader>[]>;
    /** Environment variables the plugin must ignore when it builds its Nomad client. */
    ignoreEnvVars?: pulumi.Input<Record<string, pulumi.Input<boolean>>>;
    /** Skip TLS verification. Never set by spin-cloud. */
    skipVerify?: pulumi.Input<boolean>;
    /** Log in with a JWT auth method instead of `secretId`. */
    authJwt?: pulumi.Input<ProviderAuthJwt>;
}

/** What `Provider` uses of the schema's `provider` section. */
export const PROVIDER_BINDING: ResourceBinding = {
    token: `pulumi:providers:${NOMAD_PACKAGE}`,
    inputs: keysOf<ProviderArgs>()([
        "address", "caPem", "caFile", "certPem", "certFile", "keyPem", "keyFile", "secretId", "region",
        "httpAuth", "headers", "ignoreEnvVars", "skipVerify", "authJwt",
    ]),
    outputs: [],
    required: ["address"],
    secrets: ["headers", "httpAuth", "keyPem", "secretId"],
    replaceOnChanges: [],
    jsonEncoded: ["headers", "ignoreEnvVars", "skipVerify", "authJwt"],
    objectTypes: {
        headers: { token: "nomad:index/ProviderHeader:ProviderHeader", properties: keysOf<ProviderHeader>()(["name", "value"]) },
        authJwt: { token: "nomad:index/ProviderAuthJwt:ProviderAuthJwt", properties: keysOf<ProviderAuthJwt>()(["authMethod", "loginToken"]) },
    },
};

/**
 * An explicit Nomad provider. Pass it as `provider` (or in a component's `providers`) to every
 * Nomad resource; registered with `version: "2.6.1"` so the engine loads that plugin.
 */
export class Provider extends pulumi.ProviderResource {
    static readonly binding = PROVIDER_BINDING;
    declare readonly address: pulumi.Output<string>;
    declare readonly caPem: pulumi.Output<string | undefined>;
    declare readonly region: pulumi.Output<string | undefined>;
    declare readonly secretId: pulumi.Output<string | undefined>;

    constructor(name: string, args: ProviderArgs, opts?: pulumi.ResourceOptions) {
        const r = registration(PROVIDER_BINDING, args, opts);
        super(NOMAD_PACKAGE, name, r.inputs, r.opts);
    }
}

/**
 * The provider uses only what the stack sets, not the user's shell. `address`, `secretId` and
 * `caPem` override NOMAD_ADDR, NOMAD_TOKEN and NOMAD_CACERT; NOMAD_NAMESPACE and NOMAD_REGION are
 * the keys `ignore_env_vars` supports (terraform-provider-nomad website/docs/index.html.markdown,
 * nomad/provider.go); `skipVerify: false` overrides NOMAD_SKIP_VERIFY.
 */
export const PROVIDER_ENV_ISOLATION = {
    ignoreEnvVars: { NOMAD_NAMESPACE: true, NOMAD_REGION: true },
    skipVerify: false,
} as const;

/** The cluster outputs `nomadProvider` needs. */
export interface NomadConnection {
    /** Nomad API over HTTPS, e.g. the operator endpoint's `https://<name>:4646`; plain HTTP only on 127.0.0.1. */
    address: pulumi.Input<string>;
    /** PEM of the cluster CA (the only CA trusted for the agent's certificate); none over loopback HTTP. */
    caPem?: pulumi.Input<string>;
    /** Nomad management token; registered as a secret whatever the caller passes. */
    secretId: pulumi.Input<string>;
    /** Nomad region (`nomadRegion` of the stack). */
    region?: pulumi.Input<string>;
}

/**
 * A Nomad provider for the cluster: HTTPS (plain `http://` only to 127.0.0.1, the local target),
 * the cluster CA as the only trust anchor, the management token as a secret.
 */
export function nomadProvider(name: string, connection: NomadConnection, opts?: pulumi.ResourceOptions): Provider {
    const checked = (value: string): string => {
        // Plain HTTP only on loopback (the local target): a token never crosses a network in clear.
        if (!/^https:\/\/[^/\s]+/.test(value) && !/^http:\/\/127\.0\.0\.1:\d+$/.test(value)) {
            throw new Error(`nomadProvider ${name}: address must be an https:// URL, or http://127.0.0.1:<port> on this machine, got '${value}'`);
        }
        return value;
    };
    const address = typeof connection.address === "string" ? checked(connection.address) : pulumi.output(connection.address).apply(checked);
    return new Provider(name, {
        address,
        caPem: connection.caPem,
        secretId: pulumi.secret(connection.secretId),
        region: connection.region,
        ...PROVIDER_ENV_ISOLATION,
    }, opts);
}
