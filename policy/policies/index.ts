/**
 * Every policy of the spin-cloud-guard pack, in one list. `policy/index.ts` serves this list
 * through `PolicyPack`; the tests import it directly and never construct the pack.
 */
import { EnforcementLevel, Policies } from "@pulumi/policy";
import { allowedInstanceFamilies, ebsEncryptionRequired, imdsV2Required, secureStringCustomerKey } from "./compute";
import {
    appHostsInAllowedDomains, artifactsPinned, jobspecIsJson, productionAppMinInstances, spinAppAutoRevert, spinAppHealthCheck,
    spinAppResources,
} from "./jobs";
import { clusterPortsNotPublic, noPublicIngress, noSshIngress } from "./network";
import { publicIngressOnlyOnLoadBalancer, serverQuorum } from "./stack";
import { requiredTags } from "./tags";
import { traefikDashboardNotPublic } from "./traefik";
import { agentAclTlsEnabled, noSecretsInUserData } from "./user-data";

export const PACK_NAME = "spin-cloud-guard";

/** The pack's default level; every policy sets its own, so this only applies to future ones. */
export const PACK_ENFORCEMENT_LEVEL: EnforcementLevel = "advisory";

export const POLICIES: Policies = [
    // Mandatory: nodes and secrets.
    imdsV2Required,
    ebsEncryptionRequired,
    secureStringCustomerKey,
    agentAclTlsEnabled,
    noSecretsInUserData,
    // Mandatory: network.
    noPublicIngress,
    publicIngressOnlyOnLoadBalancer,
    noSshIngress,
    clusterPortsNotPublic,
    serverQuorum,
    // Mandatory: Nomad jobs.
    jobspecIsJson,
    spinAppResources,
    spinAppHealthCheck,
    spinAppAutoRevert,
    appHostsInAllowedDomains,
    artifactsPinned,
    // Advisory.
    allowedInstanceFamilies,
    requiredTags,
    productionAppMinInstances,
    traefikDashboardNotPublic,
];
