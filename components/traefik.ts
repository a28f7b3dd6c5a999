import * as pulumi from "@pulumi/pulumi";
import { TRAEFIK_CONSUL_TOKEN_ITEM, traefikJob } from "../provisioning/jobs/traefik-job";
import { JOB_IDS } from "../provisioning/platform";
import { Architecture } from "../provisioning/types";
import { NomadAccess, jobSecrets, registerJob } from "./nomad-access";

export interface TraefikArgs {
    nomad: NomadAccess;
    datacenter: string;
    architecture: Architecture;
    /** Traefik trusts X-Forwarded-* headers only from here (the load balancers live in the VPC). */
    vpcCidr: string;
    /** Consul ACL token of the catalog provider (secret); handed over as a Nomad Variable. */
    consulToken: pulumi.Input<string>;
}

/**
 * Traefik on every Nomad client (a system job), routing public traffic from the load balancer
 * to the services that Consul lists with `traefik.enable=true` tags.
 */
export class Traefik extends pulumi.ComponentResource {
    readonly jobId: pulumi.Output<string>;

    constructor(name: string, args: TraefikArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:platform:Traefik", name, {}, opts);
        const secrets = jobSecrets(`${name}-secrets`, JOB_IDS.traefik, { [TRAEFIK_CONSUL_TOKEN_ITEM]: args.consulToken }, args.nomad, this);
        const job = registerJob(name, traefikJob({
            datacenters: [args.datacenter],
            architecture: args.architecture,
            vpcCidr: args.vpcCidr,
        }), args.nomad, this, [secrets]);
        this.jobId = job.name;
        this.registerOutputs({ jobId: this.jobId });
    }
}
