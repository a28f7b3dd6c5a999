/**
 * spin-cloud's typed binding to the Pulumi Nomad provider plugin 2.6.1 (`@pulumi/nomad` is not
 * available from our registry), and the gate that waits for a Nomad leader.
 */
import { ACL_POLICY_BINDING, ACL_TOKEN_BINDING } from "./acl";
import { ResourceBinding } from "./binding";
import { JOB_BINDING } from "./job";
import { NAMESPACE_BINDING } from "./namespace";
import { PROVIDER_BINDING } from "./provider";
import { VARIABLE_BINDING } from "./variable";

export * from "./acl";
export * from "./binding";
export * from "./job";
export * from "./leader";
export * from "./namespace";
export * from "./provider";
export * from "./variable";

/** Every resource binding, the provider's first: what the schema test checks. */
export const ALL_BINDINGS: readonly ResourceBinding[] = [
    PROVIDER_BINDING, JOB_BINDING, ACL_POLICY_BINDING, ACL_TOKEN_BINDING, NAMESPACE_BINDING, VARIABLE_BINDING,
];
