/**
 * Reading Traefik routing out of Nomad jobs, kept deliberately simple:
 * - routers come from Consul-catalog service tags `traefik.<http|tcp>.routers.<name>.<field>=<value>`;
 * - the static config is a job template (`EmbeddedTmpl`) whose YAML has a top-level `entryPoints`;
 *   Go template actions `{{ … }}` are blanked before parsing. Traefik CLI flags are not read.
 */
import * as YAML from "yaml";
import { asRecord, Props } from "./props";
import { allServices, allTasks, NomadJob } from "./nomad-job";
import { PUBLIC_ENTRY_POINT_PORTS } from "./ports";

export interface TraefikRouter {
    readonly name: string;
    readonly protocol: "http" | "tcp";
    readonly rule?: string;
    readonly service?: string;
    /** Entry points as listed; `undefined` means Traefik's default: every entry point. */
    readonly entryPoints?: string[];
}

const ROUTER_TAG = /^traefik\.(http|tcp)\.routers\.([^.]+)\.(rule|service|entrypoints)=(.*)$/i;

/** Routers declared by the tags of every service of the job (canary tags included). */
export function routersOf(job: NomadJob): TraefikRouter[] {
    const routers = new Map<string, { name: string; protocol: "http" | "tcp"; rule?: string; service?: string; entryPoints?: string[] }>();
    const tags = allServices(job).flatMap((s) => [...(s.Tags ?? []), ...(s.CanaryTags ?? [])]);
    for (const tag of tags) {
        const match = ROUTER_TAG.exec(String(tag));
        if (!match) {
            continue;
        }
        const protocol = match[1].toLowerCase() as "http" | "tcp";
        const key = `${protocol}/${match[2]}`;
        const router = routers.get(key) ?? { name: match[2], protocol };
        const field = match[3].toLowerCase();
        if (field === "rule") {
            router.rule = match[4];
        } else if (field === "service") {
            router.service = match[4];
        } else {
            router.entryPoints = match[4].split(",").map((e) => e.trim()).filter((e) => e !== "");
        }
        routers.set(key, router);
    }
    return [...routers.values()];
}

export type HostMatcher = { readonly kind: "host"; readonly host: string } | { readonly kind: "unverifiable"; readonly text: string };

/**
 * The hosts a rule matches: every argument of `Host(…)` and `HostSNI(…)`; `HostRegexp`,
 * `HostSNIRegexp` and `HostSNI(\`*\`)` cannot be checked against a domain list.
 */
export function hostMatchers(rule: string): HostMatcher[] {
    const matchers: HostMatcher[] = [];
    for (const call of rule.matchAll(/\b(Host|HostSNI|HostRegexp|HostSNIRegexp)\s*\(([^)]*)\)/g)) {
        if (call[1].endsWith("Regexp")) {
            matchers.push({ kind: "unverifiable", text: call[0] });
            continue;
        }
        for (const arg of call[2].matchAll(/[`"']([^`"']*)[`"']/g)) {
            const host = arg[1].trim().toLowerCase();
            matchers.push(host === "*" ? { kind: "unverifiable", text: call[0] } : { kind: "host", host });
        }
    }
    return matchers;
}

/** True when `host` is `domain` or one of its subdomains. */
export function hostInDomain(host: string, domain: string): boolean {
    const d = domain.trim().toLowerCase().replace(/^\*?\./, "");
    return host === d || host.endsWith(`.${d}`);
}

/** Parsed YAML of every template of the job; templates that do not parse are skipped. */
function templateDocuments(job: NomadJob): Props[] {
    return allTasks(job).flatMap((task) => task.Templates ?? [])
        .map((t) => t.EmbeddedTmpl)
        .filter((text): text is string => typeof text === "string")
        .flatMap((text) => {
            try {
                const doc = asRecord(YAML.parse(text.replace(/\{\{[\s\S]*?\}\}/g, "TEMPLATE")));
                return doc ? [doc] : [];
            } catch {
                return [];
            }
        });
}

/** Traefik static configs of the job: templates with a top-level `entryPoints`. */
export function staticConfigsOf(job: NomadJob): Props[] {
    return templateDocuments(job).filter((doc) => asRecord(doc.entryPoints) !== undefined);
}

/** Routers of file-provider dynamic configs in the job's templates (`http.routers`). */
export function fileRoutersOf(job: NomadJob): TraefikRouter[] {
    return templateDocuments(job).flatMap((doc) => Object.entries(asRecord(asRecord(doc.http)?.routers) ?? {}))
        .map(([name, value]) => {
            const router = asRecord(value) ?? {};
            const entryPoints = Array.isArray(router.entryPoints) ? router.entryPoints.map(String) : undefined;
            return { name, protocol: "http" as const, rule: router.rule as string | undefined, service: router.service as string | undefined, entryPoints };
        });
}

/** Routers from service tags and from file-provider templates. */
export function allRouters(job: NomadJob): TraefikRouter[] {
    return [...routersOf(job), ...fileRoutersOf(job)];
}

/** The port of an entry point address (`:443`, `0.0.0.0:80`, `[::]:443/tcp`). */
export function addressPort(address: string): number | undefined {
    const match = /:(\d+)(\/(tcp|udp))?$/.exec(address.trim());
    return match ? Number(match[1]) : undefined;
}

/** Names of the entry points on a public port (80, 443, or Traefik's `web` port the public load balancer forwards to). */
export function publicEntryPoints(staticConfig: Props): string[] {
    return Object.entries(asRecord(staticConfig.entryPoints) ?? {})
        .filter(([, ep]) => PUBLIC_ENTRY_POINT_PORTS.includes(addressPort(String(asRecord(ep)?.address ?? "")) ?? -1))
        .map(([name]) => name);
}
