import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { AGENT_CERT_ALLOWED_USES, certificateSubject } from "../../provisioning/aws/pki";
import { SECRET_PARAMETERS, SecretName, SecretScope, secretParameterName } from "../../provisioning/agents/secrets";
import { ClusterProvisioning, NodeRole } from "../../provisioning/types";

export interface ClusterSecretsArgs {
    /** The cluster whose names go into certificates and whose SSM prefix holds the secrets. */
    cluster: ClusterProvisioning;
    tags: Record<string, string>;
}

/**
 * CA: 10 years; agent certificates: 1 year, renewed by any `pulumi up` in their last 30 days
 * (@pulumi/tls `earlyRenewalHours`: the provider plans a replacement once the certificate is
 * within that many hours of its end). The new certificate lands in SSM and every node's daily
 * spin-cloud-tls-renew.timer (provisioning/aws/scripts/renew-tls.sh) installs it and reloads the
 * agents within a day. README "Operating notes" → "Certificate renewal".
 */
export const CERTIFICATE_LIFETIMES = {
    caValidityHours: 10 * 365 * 24,
    agentValidityHours: 365 * 24,
    agentEarlyRenewalHours: 30 * 24,
} as const;
const CA_VALIDITY_HOURS = CERTIFICATE_LIFETIMES.caValidityHours;
const AGENT_VALIDITY_HOURS = CERTIFICATE_LIFETIMES.agentValidityHours;
const AGENT_EARLY_RENEWAL_HOURS = CERTIFICATE_LIFETIMES.agentEarlyRenewalHours;

/**
 * Every secret of a cluster: gossip keys, ACL tokens, the cluster CA and the agents' keys. Each is
 * a Pulumi secret and is stored as an SSM SecureString encrypted with a KMS key made here; nodes
 * fetch them at boot with their instance role, so none of them is ever in user data.
 */
export class ClusterSecrets extends pulumi.ComponentResource {
    readonly kmsKeyArn: pulumi.Output<string>;
    /** PEM of the cluster CA certificate (public: clients need it to trust the agents). */
    readonly caCertPem: pulumi.Output<string>;
    readonly consulManagementToken: pulumi.Output<string>;
    readonly nomadManagementToken: pulumi.Output<string>;
    /** Consul token of Traefik's catalog provider; handed to the Traefik job as a Nomad Variable. */
    readonly consulTraefikToken: pulumi.Output<string>;
    /** ARNs of every SSM parameter, so instance roles can depend on them. */
    readonly parameterArns: pulumi.Output<string>[];
    private readonly caKeyPem: pulumi.Output<string>;

    constructor(name: string, args: ClusterSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:cluster:ClusterSecrets", name, {}, opts);
        const parent = { parent: this };
        const { cluster } = args;

        const key = new aws.kms.Key(`${name}-key`, {
            description: `spin-cloud ${cluster.clusterName}: encrypts the cluster's SSM parameters`,
            enableKeyRotation: true,
            deletionWindowInDays: 30,
            tags: args.tags,
        }, parent);
        new aws.kms.Alias(`${name}-key`, { name: `alias/${cluster.clusterName}`, targetKeyId: key.keyId }, parent);

        const gossipKey = (id: string) => new random.RandomBytes(`${name}-${id}`, { length: 32 }, parent).base64;
        const token = (id: string) => pulumi.secret(new random.RandomUuid(`${name}-${id}`, {}, {
            parent: this,
            additionalSecretOutputs: ["result"],
        }).result);

        const caKey = new tls.PrivateKey(`${name}-ca`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, parent);
        const ca = new tls.SelfSignedCert(`${name}-ca`, {
            privateKeyPem: caKey.privateKeyPem,
            isCaCertificate: true,
            validityPeriodHours: CA_VALIDITY_HOURS,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            subject: { commonName: `${cluster.clusterName} cluster CA`, organization: "spin-cloud" },
        }, parent);

        this.caKeyPem = caKey.privateKeyPem;
        this.caCertPem = ca.certPem;
        const agentCert = (role: NodeRole) => {
            const subject = certificateSubject(role, cluster);
            return this.issueCertificate(`${name}-${role}`, subject.commonName, subject.dnsNames, subject.ipAddresses);
        };
        const server = agentCert("server");
        const client = agentCert("client");

        this.consulManagementToken = token("consul-management-token");
        this.nomadManagementToken = token("nomad-management-token");
        this.consulTraefikToken = token("consul-traefik-token");
        const values: Partial<Record<`${SecretScope}/${SecretName}`, pulumi.Output<string>>> = {
            "common/ca-cert": ca.certPem,
            "common/consul-gossip-key": gossipKey("consul-gossip-key"),
            "common/consul-agent-token": token("consul-agent-token"),
            "common/consul-nomad-token": token("consul-nomad-token"),
            "common/consul-dns-token": token("consul-dns-token"),
            "server/nomad-gossip-key": gossipKey("nomad-gossip-key"),
            "server/consul-management-token": this.consulManagementToken,
            "server/nomad-management-token": this.nomadManagementToken,
            "server/consul-traefik-token": this.consulTraefikToken,
            "server/tls-cert": server.certPem,
            "server/tls-key": server.privateKeyPem,
            "client/tls-cert": client.certPem,
            "client/tls-key": client.privateKeyPem,
        };

        this.parameterArns = SECRET_PARAMETERS.map((p) => {
            const value = values[`${p.scope}/${p.name}`];
            if (value === undefined) {
                throw new pulumi.ResourceError(`no value for secret parameter ${p.scope}/${p.name}`, this);
            }
            return new aws.ssm.Parameter(`${name}-${p.scope}-${p.name}`, {
                name: secretParameterName(cluster.ssmPrefix, p.scope, p.name),
                description: p.description,
                type: "SecureString",
                keyId: key.arn,
                value: pulumi.secret(value),
                tier: "Standard",
                tags: args.tags,
            }, parent).arn;
        });

        this.kmsKeyArn = key.arn;
        this.registerOutputs({
            kmsKeyArn: this.kmsKeyArn,
            caCertPem: this.caCertPem,
            consulManagementToken: this.consulManagementToken,
            nomadManagementToken: this.nomadManagementToken,
        });
    }

    /**
     * A key and a certificate signed by the cluster CA, valid for TLS server and client use,
     * renewed by `pulumi up` in its last 30 days. The key is a Pulumi secret.
     */
    issueCertificate(name: string, commonName: string, dnsNames: pulumi.Input<pulumi.Input<string>[]>, ipAddresses: string[] = []) {
        const parent = { parent: this };
        const key = new tls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" }, parent);
        const request = new tls.CertRequest(name, {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName, organization: "spin-cloud" },
            dnsNames,
            ipAddresses,
        }, parent);
        const cert = new tls.LocallySignedCert(name, {
            certRequestPem: request.certRequestPem,
            caPrivateKeyPem: this.caKeyPem,
            caCertPem: this.caCertPem,
            validityPeriodHours: AGENT_VALIDITY_HOURS,
            earlyRenewalHours: AGENT_EARLY_RENEWAL_HOURS,
            allowedUses: [...AGENT_CERT_ALLOWED_USES],
        }, parent);
        return { certPem: cert.certPem, privateKeyPem: pulumi.secret(key.privateKeyPem) };
    }
}
