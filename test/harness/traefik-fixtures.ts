/** Shared by the traefik static configuration and Nomad job tests. */
import { TraefikAwsJobInput } from "../../provisioning/jobs/traefik-job";

/** The AWS-runtime job input (typed as such so it also serves as a static-config input). */
export const INPUT: TraefikAwsJobInput = { vpcCidr: "10.40.0.0/16", datacenters: ["dc-test"], architecture: "arm64" };

/** Every object key of a parsed document, with its dotted path. */
export function keyPaths(value: unknown, prefix = ""): string[] {
    if (Array.isArray(value)) {
        return value.flatMap((item, i) => keyPaths(item, `${prefix}[${i}]`));
    }
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([key, child]) => [`${prefix}${key}`, ...keyPaths(child, `${prefix}${key}.`)]);
    }
    return [];
}
