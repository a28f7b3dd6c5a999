/**
 * Every policy of the spin-cloud-guard pack, in one list. `policy/index.ts` serves this list
 * through `PolicyPack`; the tests import it directly and never construct the pack.
 */
import { EnforcementLevel, Policies } from "@pulumi/policy";
import {
    detailedMonitoring, efsEncrypted, elbDeletionProtection, elbLogging, kmsKeyRotation, noPublicIpOnNodes,
} from "./aws-guard";
import { libsqlBackupsDurable, s3AccessNamesBuckets, s3Encrypted, s3PublicAccessBlocked } from "./buckets";
import { allowedInstanceFamilies, ebsEncryptionRequired, imdsV2Required, secureStringCustomerKey } from "./compute";
import { noRawExecOnAws } from "./drivers";
import {
    appHostsInAllowedDomains, artifactsPinned, artifactsPinnedByDigest, jobspecIsJson, productionAppMinInstances, spinAppAutoRevert, spinAppHealthCheck,
    spinAppResources,
} from "./jobs";
import { clusterPortsNotPublic, noPublicIngress, noSshIngress } from "./network";
import { noSecretsInCommands, noSecretsInJobspecs, noSecretsInTags, ssmSecretsAreSecureStrings } from "./secrets";
import { publicIngressOnlyOnLoadBalancer, serverQuorum } from "./stack";
import {
    dynamodbAccessNamesTables, dynamodbCustomerKey, dynamodbDeletionProtection, dynamodbPointInTimeRecovery, noCrossAppStoreAccess,
} from "./stores";
import { albHttpToHttpsRedirection, publicRangesInAggregate } from "./stack-aws";
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
    noPublicIpOnNodes,
    kmsKeyRotation,
    efsEncrypted,
    ssmSecretsAreSecureStrings,
    noSecretsInTags,
    noSecretsInCommands,
    noRawExecOnAws,
    // Mandatory: network.
    noPublicIngress,
    publicIngressOnlyOnLoadBalancer,
    noSshIngress,
    clusterPortsNotPublic,
    publicRangesInAggregate,
    albHttpToHttpsRedirection,
    serverQuorum,
    // Mandatory: apps' stores.
    dynamodbCustomerKey,
    dynamodbPointInTimeRecovery,
    dynamodbDeletionProtection,
    dynamodbAccessNamesTables,
    noCrossAppStoreAccess,
    // Mandatory: S3 buckets (the libSQL backups, the load balancers' logs).
    s3PublicAccessBlocked,
    s3Encrypted,
    libsqlBackupsDurable,
    s3AccessNamesBuckets,
    // Mandatory: Nomad jobs.
    jobspecIsJson,
    spinAppResources,
    spinAppHealthCheck,
    spinAppAutoRevert,
    appHostsInAllowedDomains,
    artifactsPinned,
    noSecretsInJobspecs,
    // Advisory.
    artifactsPinnedByDigest,
    allowedInstanceFamilies,
    requiredTags,
    productionAppMinInstances,
    traefikDashboardNotPublic,
    detailedMonitoring,
    elbLogging,
    elbDeletionProtection,
];
