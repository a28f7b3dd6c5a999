/**
 * The shared machinery of spin-cloud's typed binding to the Pulumi Nomad provider plugin
 * (`pulumi-resource-nomad`), written by hand because `@pulumi/nomad` is not in our registry.
 *
 * Each resource class describes what it uses in a `ResourceBinding` (type token, input and
 * output property names, secret properties, nested object types) and builds its registration
 * from that description alone, so the description is exactly what reaches the engine and
 * `test/nomad/binding.test.ts` can check it against the provider's schema
 * (`test/schemas/pulumi-nomad-v2.6.1.schema.json`).
 *
 * What a generated Pulumi SDK does, and this mirrors (pulumi/pulumi `pkg/codegen/nodejs/gen.go`):
 * - every resource and the provider get `version` through `utilities.resourceOptsDefaults()`
 *   (`{ version }`, plus `pluginDownloadURL` only when the schema names one: the Nomad schema
 *   does not, so the engine fetches the plugin from Pulumi's default plugin source);
 * - a secret input is passed as `pulumi.secret(value)`; every property the schema marks secret
 *   is listed in `additionalSecretOutputs`;
 * - inputs marked `willReplaceOnChanges` are listed in `replaceOnChanges`;
 * - the provider's non-string inputs are JSON-encoded (`pulumi.output(v).apply(JSON.stringify)`),
 *   since provider configuration reaches the plugin as strings;
 * - output-only properties are registered as `undefined` so the SDK creates their outputs.
 */
import * as pulumi from "@pulumi/pulumi";

/** Version of the provider plugin, and of the schema this binding is checked against. */
export const NOMAD_PROVIDER_VERSION = "2.6.1";

/** The Pulumi package name: provider resources are `pulumi:providers:nomad`. */
export const NOMAD_PACKAGE = "nomad";

/** A nested object type of the schema that an input property takes. */
export interface ObjectTypeBinding {
    /** Schema type token, e.g. `nomad:index/JobHcl2:JobHcl2`. */
    readonly token: string;
    /** Property names the binding's TypeScript interface declares. */
    readonly properties: readonly string[];
}

/** Everything a resource class uses of the provider schema. */
export interface ResourceBinding {
    /** Resource type token (`nomad:index/job:Job`), or `pulumi:providers:nomad` for the provider. */
    readonly token: string;
    /** Input properties, in the order they are registered. */
    readonly inputs: readonly string[];
    /** Output-only properties (registered as `undefined`). */
    readonly outputs: readonly string[];
    /** Inputs that must be given (the schema's `requiredInputs`, and any this binding adds). */
    readonly required: readonly string[];
    /** Properties the schema marks secret: wrapped when inputs, all in `additionalSecretOutputs`. */
    readonly secrets: readonly string[];
    /** Inputs whose change replaces the resource (the schema's `willReplaceOnChanges`). */
    readonly replaceOnChanges: readonly string[];
    /** Provider only: non-string inputs, JSON-encoded before registration. */
    readonly jsonEncoded?: readonly string[];
    /** Input properties whose value is a schema object type (or a list of one). */
    readonly objectTypes: Readonly<Record<string, ObjectTypeBinding>>;
}

/**
 * An exhaustive list of the string keys of `T`: a key left out (or one `T` does not have) is a
 * compile error, so a binding's property list cannot drift from its TypeScript interface.
 */
export function keysOf<T>() {
    return <const K extends readonly (keyof T & string)[]>(
        keys: K & ([Exclude<keyof T & string, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T & string, K[number]> }),
    ): readonly string[] => keys;
}

/** `{ version }` for every resource, as generated SDKs' `utilities.resourceOptsDefaults()`. */
export function nomadResourceOptsDefaults(): { version: string } {
    return { version: NOMAD_PROVIDER_VERSION };
}

/**
 * The inputs and options a binding class passes to its super constructor: required inputs
 * checked, secrets wrapped, provider values JSON-encoded, outputs declared, version, secret
 * outputs and replace-on-changes merged into `opts`.
 */
export function registration<O extends pulumi.CustomResourceOptions>(
    binding: ResourceBinding, args: object | undefined, opts: O | undefined,
): { inputs: pulumi.Inputs; opts: O } {
    const given = (args ?? {}) as Record<string, unknown>;
    let options = (opts ?? {}) as O;
    for (const name of binding.required) {
        if (given[name] === undefined && !options.urn) {
            throw new Error(`${binding.token}: missing required property '${name}'`);
        }
    }
    const inputs: pulumi.Inputs = {};
    for (const name of binding.inputs) {
        const value = given[name];
        let input: unknown = value !== undefined && binding.secrets.includes(name) ? pulumi.secret(value) : value;
        if (binding.jsonEncoded?.includes(name)) {
            const value: pulumi.Output<unknown> = pulumi.output(input as pulumi.Input<any>);
            input = value.apply((v) => (v === undefined ? undefined : JSON.stringify(v)));
        }
        inputs[name] = input;
    }
    for (const name of binding.outputs) {
        inputs[name] = undefined;
    }
    options = pulumi.mergeOptions(nomadResourceOptsDefaults(), options) as O;
    if (binding.secrets.length > 0) {
        options = pulumi.mergeOptions(options, { additionalSecretOutputs: [...binding.secrets] }) as O;
    }
    if (binding.replaceOnChanges.length > 0) {
        options = pulumi.mergeOptions(options, { replaceOnChanges: [...binding.replaceOnChanges] }) as O;
    }
    return { inputs, opts: options };
}
