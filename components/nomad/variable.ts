/** `nomad:index/variable:Variable`: a Nomad Variable, whose items are always secret. */
import * as pulumi from "@pulumi/pulumi";
import { ResourceBinding, keysOf, registration } from "./binding";

/**
 * Inputs of a Variable; names as in the schema. The schema's write-only `itemsWo` and
 * `itemsWoVersion` are left out: `items` is what jobs read through templates.
 */
export interface VariableArgs {
    /** Variable path, e.g. `nomad/jobs/traefik`; a change replaces the variable. */
    path: pulumi.Input<string>;
    /** Key/value items; registered as a secret whatever the caller passes. */
    items?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Namespace (plugin default `default`); a change replaces the variable. */
    namespace?: pulumi.Input<string>;
}

/** What `Variable` uses of the schema's `nomad:index/variable:Variable`. */
export const VARIABLE_BINDING: ResourceBinding = {
    token: "nomad:index/variable:Variable",
    inputs: keysOf<VariableArgs>()(["path", "items", "namespace"]),
    outputs: [],
    required: ["path"],
    secrets: ["items"],
    replaceOnChanges: ["namespace", "path"],
    objectTypes: {},
};

/** A Nomad Variable. */
export class Variable extends pulumi.CustomResource {
    static readonly binding = VARIABLE_BINDING;
    declare readonly path: pulumi.Output<string>;
    /** The items (secret). */
    declare readonly items: pulumi.Output<Record<string, string> | undefined>;
    declare readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: VariableArgs, opts?: pulumi.CustomResourceOptions) {
        const r = registration(VARIABLE_BINDING, args, opts);
        super(VARIABLE_BINDING.token, name, r.inputs, r.opts);
    }
}
