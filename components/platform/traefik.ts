import * as pulumi from "@pulumi/pulumi";
import { TRAEFIK_CONSUL_TOKEN_ITEM, TraefikJobInput, traefikJob } from "../../provisioning/jobs/traefik-job";
import { JOB_IDS } from "../../provisioning/platform";
import { NomadAccess, jobSecrets, registerJob } from "./nomad-access";

export interface TraefikArgs {
    nomad: NomadAccess;
    /** The job: on AWS with the VPC CIDR (X-Forwarded-* trusted only from there), locally with raw_exec. */
    job: TraefikJobInput;
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
        const job = registerJob(name, traefikJob(args.job), args.nomad, this, [secrets]);
        this.jobId = job.name;
        this.registerOutputs({ jobId: this.jobId });
    }
}
