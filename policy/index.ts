/**
 * The spin-cloud-guard CrossGuard policy pack. `pulumi preview --policy-pack policy` runs this
 * file (through @pulumi/pulumi/cmd/run-policy-pack, with this directory as working directory);
 * constructing the PolicyPack starts the gRPC server the Pulumi engine talks to.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_ENFORCEMENT_LEVEL, PACK_NAME, POLICIES } from "./policies";

new PolicyPack(PACK_NAME, {
    policies: POLICIES,
    enforcementLevel: PACK_ENFORCEMENT_LEVEL,
    description: "Security and reliability guard rails for spin-cloud: Nomad + Consul on AWS and the Spin apps it runs.",
});
