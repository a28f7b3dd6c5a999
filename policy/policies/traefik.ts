/** The Traefik dashboard policy. */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { asRecord } from "../lib/props";
import { allRouters, publicEntryPoints, staticConfigsOf } from "../lib/traefik";
import { validateJob } from "./jobs";

/** Entry point names assumed public when the job carries no static config (Traefik's docs' names). */
export const DEFAULT_PUBLIC_ENTRY_POINTS: readonly string[] = ["web", "websecure"];

/** Traefik's internal service behind the API and dashboard. */
const API_SERVICE = "api@internal";
/** The entry point `api.insecure` serves the dashboard on. */
const INSECURE_API_ENTRY_POINT = "traefik";

/**
 * Advisory. A job's Traefik must not serve its dashboard on a public entry point: one on port 80
 * or 443, or on Traefik's `web` port that the public load balancer forwards to (PUBLIC_ENTRY_POINT_PORTS),
 * read from the static config template:
 * - `api.insecure: true` serves it on the `traefik` entry point, which must then not be public;
 * - a router (service tags or file-provider template) to `api@internal` must list entry points,
 *   none of them public (a router without entryPoints listens on all of them).
 */
export const traefikDashboardNotPublic: ResourceValidationPolicy = {
    name: "traefik-dashboard-not-public",
    description: "Traefik's dashboard/API is not served on a public entry point (port 80, 443 or Traefik's public web port).",
    enforcementLevel: "advisory",
    validateResource: validateJob((job, label, _args, report) => {
        const configs = staticConfigsOf(job);
        const publicNames = configs.length > 0 ? configs.flatMap(publicEntryPoints) : [...DEFAULT_PUBLIC_ENTRY_POINTS];
        for (const config of configs) {
            const api = asRecord(config.api);
            if (api?.insecure === true && publicNames.includes(INSECURE_API_ENTRY_POINT)) {
                report(`${label} sets api.insecure: true and its '${INSECURE_API_ENTRY_POINT}' entry point is on a public ` +
                    `port, so the dashboard is open to the internet. Drop api.insecure, or move that entry point to a ` +
                    `port the load balancer does not forward.`);
            }
        }
        for (const router of allRouters(job).filter((r) => r.service === API_SERVICE)) {
            const exposed = router.entryPoints === undefined
                ? publicNames
                : router.entryPoints.filter((e) => publicNames.includes(e));
            if (exposed.length > 0) {
                const how = router.entryPoints === undefined ? "lists no entryPoints, so it listens on all of them" : "lists";
                report(`${label} router '${router.name}' routes to ${API_SERVICE} and ${how} (public: ${exposed.join(", ")}). ` +
                    `Bind the dashboard router to a private entry point only.`);
            }
        }
    }),
};
