/**
 * What makes a new version of an app healthy and when it rolls: the readiness path its job
 * checks (derived from spin.toml unless `healthCheck.path` is given), and the keyed digest of its
 * secret variables and store secrets that puts a changed secret into the job as a new version.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { SPIN_APP_DEFAULT_READINESS, SpinAppReadiness } from "../../provisioning/jobs/spin-app-job";
import type { SpinHttpRoute } from "./manifest";

/**
 * The first public route without parameters, as a request path: `/...` → `/`, `/api/...` →
 * `/api/`, `/hello` → `/hello` (Spin route syntax: spin-docs http-trigger.md, `:name` segments
 * and a trailing `/...` wildcard); `/` when there is none (a prebuilt bindle).
 */
export function readinessFor(routes: readonly SpinHttpRoute[] | undefined, given?: { readonly path?: string }): SpinAppReadiness {
    if (given?.path !== undefined) return { path: given.path };
    for (const r of routes ?? []) {
        if (r.private || r.route === undefined || r.route.split("/").some((s) => s.startsWith(":"))) continue;
        if (r.route === "/..." || r.route === "...") return { path: "/" };
        return { path: r.route.endsWith("/...") ? r.route.slice(0, -3) : r.route };
    }
    return SPIN_APP_DEFAULT_READINESS;
}

/** HMAC-SHA256 of the secret values under a key only Pulumi holds: changes with any value, reveals none. */
export function secretsDigest(key: string, values: Readonly<Record<string, string>>): string {
    const canonical = JSON.stringify(Object.keys(values).sort().map((k) => [k, values[k]]));
    return crypto.createHmac("sha256", `spin-cloud/secret-variables/${key}`).update(canonical).digest("hex");
}

/** The digest as a plain (non-secret) output, so the jobspec diff stays visible in preview. */
export function secretsDigestOutput(key: pulumi.Output<string>, secrets: Readonly<Record<string, pulumi.Input<string>>>): pulumi.Output<string> {
    return pulumi.unsecret(pulumi.all([key, pulumi.all(secrets)]).apply(([k, values]) => secretsDigest(k, values as Record<string, string>)));
}

/**
 * Store secrets (the store Variable's items: an access key, libSQL tokens) as digest entries,
 * under `stores/<item>`: a Spin variable name has no `/`, so they never meet a secret variable,
 * and an app without store secrets keeps the digest it had.
 */
export function storeSecretsForDigest(items: Readonly<Record<string, pulumi.Input<string>>>): Record<string, pulumi.Input<string>> {
    return Object.fromEntries(Object.entries(items).map(([k, v]) => [`stores/${k}`, v]));
}
