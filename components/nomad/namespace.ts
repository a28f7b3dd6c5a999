/** `nomad:index/namespace:Namespace`. */
import * as pulumi from "@pulumi/pulumi";
import { ResourceBinding, keysOf, registration } from "./binding";

/** Task drivers and network modes a namespace allows (schema type `NamespaceCapabilities`). */
export interface NamespaceCapabilities {
    /** Task drivers allowed in the namespace. */
    enabledTaskDrivers?: pulumi.Input<pulumi.Input<string>[]>;
    /** Task drivers refused in the namespace. */
    disabledTaskDrivers?: pulumi.Input<pulumi.Input<string>[]>;
    /** Network modes allowed in the namespace. */
    enabledNetworkModes?: pulumi.Input<pulumi.Input<string>[]>;
    /** Network modes refused in the namespace. */
    disabledNetworkModes?: pulumi.Input<pulumi.Input<string>[]>;
}

/**
 * Allowed, denied and default node pools, Consul or Vault clusters of a namespace (schema types
 * `NamespaceNodePoolConfig`, `NamespaceConsulConfig`, `NamespaceVaultConfig`; Nomad Enterprise).
 */
export interface NamespaceAllowList {
    /** Allowed names; conflicts with `denieds`. */
    alloweds?: pulumi.Input<pulumi.Input<string>[]>;
    /** Denied names; conflicts with `alloweds`. */
    denieds?: pulumi.Input<pulumi.Input<string>[]>;
    /** Used when a job names none. */
    default?: pulumi.Input<string>;
}

/** Inputs of a Namespace; names as in the schema. */
export interface NamespaceArgs {
    /** Unique namespace name; a change replaces the namespace. */
    name?: pulumi.Input<string>;
    /** Human-readable description. */
    description?: pulumi.Input<string>;
    /** Arbitrary metadata. */
    meta?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Resource quota to attach (Nomad Enterprise). */
    quota?: pulumi.Input<string>;
    /** Allowed task drivers and network modes. */
    capabilities?: pulumi.Input<NamespaceCapabilities>;
    /** Node pools (Nomad Enterprise). */
    nodePoolConfig?: pulumi.Input<NamespaceAllowList>;
    /** Consul clusters (Nomad Enterprise). */
    consulConfig?: pulumi.Input<NamespaceAllowList>;
    /** Vault clusters (Nomad Enterprise). */
    vaultConfig?: pulumi.Input<NamespaceAllowList>;
}

const allowList = (type: string) => ({
    token: `nomad:index/${type}:${type}`,
    properties: keysOf<NamespaceAllowList>()(["alloweds", "denieds", "default"]),
});

/** What `Namespace` uses of the schema's `nomad:index/namespace:Namespace`. */
export const NAMESPACE_BINDING: ResourceBinding = {
    token: "nomad:index/namespace:Namespace",
    inputs: keysOf<NamespaceArgs>()(["name", "description", "meta", "quota", "capabilities", "nodePoolConfig", "consulConfig", "vaultConfig"]),
    outputs: [],
    required: [],
    secrets: [],
    replaceOnChanges: ["name"],
    objectTypes: {
        capabilities: {
            token: "nomad:index/NamespaceCapabilities:NamespaceCapabilities",
            properties: keysOf<NamespaceCapabilities>()(["enabledTaskDrivers", "disabledTaskDrivers", "enabledNetworkModes", "disabledNetworkModes"]),
        },
        nodePoolConfig: allowList("NamespaceNodePoolConfig"),
        consulConfig: allowList("NamespaceConsulConfig"),
        vaultConfig: allowList("NamespaceVaultConfig"),
    },
};

/** A Nomad namespace. */
export class Namespace extends pulumi.CustomResource {
    static readonly binding = NAMESPACE_BINDING;
    declare readonly name: pulumi.Output<string>;
    declare readonly description: pulumi.Output<string | undefined>;
    declare readonly meta: pulumi.Output<Record<string, string> | undefined>;

    constructor(name: string, args?: NamespaceArgs, opts?: pulumi.CustomResourceOptions) {
        const r = registration(NAMESPACE_BINDING, args, opts);
        super(NAMESPACE_BINDING.token, name, r.inputs, r.opts);
    }
}
