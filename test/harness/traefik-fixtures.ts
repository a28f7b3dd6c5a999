/** Shared by the traefik static configuration and Nomad job tests. */
import { TraefikAwsJobInput } from "../../provisioning/jobs/traefik-job";

/** The AWS-runtime job input (typed as such so it also serves as a static-config input). */
export const INPUT: TraefikAwsJobInput = { vpcCidr: "10.40.0.0/16", datacenters: ["dc-test"], architecture: "arm64" };

export { keyPaths } from "./walk";
