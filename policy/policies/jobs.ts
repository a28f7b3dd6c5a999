/** Policies on Nomad jobs (`nomad:index/job:Job` resources with a JSON jobspec). */
import { ReportViolation, ResourceValidation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import {
    allTasks, groupsOf, isSpinAppJob, jobName, NOMAD_JOB_TYPE, NomadJob, parseJobspec, servicesOf, updateOf,
} from "../lib/nomad-job";
import { stackOfUrn } from "../lib/props";
import { stackConfigFromEnv } from "../lib/stack";
import { allRouters, hostInDomain } from "../lib/traefik";
import { RuleBranch, ruleBranches } from "../lib/traefik-rule";
import { configSchema, tunables } from "./config";
import { PUBLISHED_SUMS_FILES } from "../../provisioning/versions";

type JobCheck = (job: NomadJob, label: string, args: ResourceValidationArgs, report: ReportViolation) => void;

/** A validation over the parsed job; jobs that do not parse are left to `nomad-jobspec-json`. */
export function validateJob(check: JobCheck, spinAppsOnly = false): ResourceValidation {
    return (args, report) => {
        if (args.type !== NOMAD_JOB_TYPE) {
            return args.notApplicable(`Policy only applies to resources of type '${NOMAD_JOB_TYPE}'`);
        }
        const parsed = parseJobspec(args.props);
        if (!parsed.ok) {
            return args.notApplicable(`the jobspec ${parsed.reason}`);
        }
        if (spinAppsOnly && !isSpinAppJob(parsed.value)) {
            return args.notApplicable("not a Spin app job");
        }
        check(parsed.value, `Nomad job '${jobName(parsed.value, args.name)}' (resource '${args.name}')`, args, report);
    };
}

export const jobspecIsJson: ResourceValidationPolicy = {
    name: "nomad-jobspec-json",
    description: "Nomad job resources carry the Nomad API JSON of the job (json: true) so the job policies can read it.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== NOMAD_JOB_TYPE) {
            return args.notApplicable(`Policy only applies to resources of type '${NOMAD_JOB_TYPE}'`);
        }
        const parsed = parseJobspec(args.props);
        if (!parsed.ok) {
            report(`Nomad job resource '${args.name}' ${parsed.reason}. Build the job as Nomad API JSON ` +
                `(components.schemas.Job: TaskGroups, Tasks, …), pass JSON.stringify(job) as jobspec and set json: true.`);
        }
    },
};

export const spinAppResources: ResourceValidationPolicy = {
    name: "spin-app-resources",
    description: "Every task of a Spin app job declares CPU and MemoryMB, within maxAppMemoryMb.",
    enforcementLevel: "mandatory",
    configSchema: configSchema("maxAppMemoryMb"),
    validateResource: validateJob((job, label, args, report) => {
        const { maxAppMemoryMb } = tunables(args.getConfig, "maxAppMemoryMb");
        for (const task of allTasks(job)) {
            const r = task.Resources;
            const what = `${label} task '${task.Name}'`;
            if (!r || !((r.CPU ?? 0) > 0 || (r.Cores ?? 0) > 0) || !((r.MemoryMB ?? 0) > 0)) {
                report(`${what} does not declare its resources (Resources.CPU or Cores, and Resources.MemoryMB). ` +
                    `Set both, so the scheduler packs apps by what they really use.`);
                continue;
            }
            const largest = Math.max(r.MemoryMB ?? 0, r.MemoryMaxMB ?? 0);
            if (largest > maxAppMemoryMb) {
                report(`${what} asks for ${largest} MB of memory, more than maxAppMemoryMb (${maxAppMemoryMb}). ` +
                    `Lower MemoryMB/MemoryMaxMB, or raise maxAppMemoryMb in the policy config.`);
            }
        }
    }, true),
};

export const spinAppHealthCheck: ResourceValidationPolicy = {
    name: "spin-app-health-check",
    description: "Every group of a Spin app job registers a service, and every service has a health check.",
    enforcementLevel: "mandatory",
    validateResource: validateJob((job, label, _args, report) => {
        for (const group of groupsOf(job)) {
            const services = servicesOf(group);
            if (services.length === 0) {
                report(`${label} group '${group.Name}' registers no service, so nothing checks its health. ` +
                    `Add a service with an http check on the app's port.`);
            }
            for (const service of services.filter((s) => (s.Checks ?? []).length === 0)) {
                report(`${label} service '${service.Name}' has no health check. Add Checks: [{ Type: "http", Path: ` +
                    `"/…", Interval, Timeout }] so Traefik and deployments only use healthy instances.`);
            }
        }
    }, true),
};

export const spinAppAutoRevert: ResourceValidationPolicy = {
    name: "spin-app-update-auto-revert",
    description: "Every group of a Spin app job has an update strategy with AutoRevert = true.",
    enforcementLevel: "mandatory",
    validateResource: validateJob((job, label, _args, report) => {
        for (const group of groupsOf(job)) {
            const update = updateOf(job, group);
            if (update?.AutoRevert !== true) {
                const why = update ? "its update strategy does not set AutoRevert: true" : "it has no update block";
                report(`${label} group '${group.Name}': ${why}. Add Update: { AutoRevert: true, … } to the job or group, ` +
                    `so a release whose instances never turn healthy rolls back by itself.`);
            }
        }
    }, true),
};

/** The stack setting that gives the cloud its apps domain (validated by components/settings/config.ts). */
const APPS_DOMAIN_KEY = "spin-cloud:appsDomain";

/**
 * Domains app hosts may use: the policy config's `allowedDomains` plus the stack's own
 * `spin-cloud:appsDomain` (stack config reaches the pack as PULUMI_CONFIG). Empty when neither
 * is set: then the platform routes apps by path on the load balancer's name and the policy does
 * not apply.
 */
export function allowedDomainsOf(configured: readonly string[], stackConfig: Record<string, string>): string[] {
    const own = (stackConfig[APPS_DOMAIN_KEY] ?? "").trim();
    return [...new Set([...configured, ...(own ? [own] : [])].map((d) => d.trim().toLowerCase()).filter((d) => d !== ""))];
}

/** Why one `||` branch of a rule is not inside the domains, or undefined when it is. */
function branchProblem(branch: RuleBranch, domains: readonly string[]): string | undefined {
    if (branch.hostCalls.length === 0) {
        return "matches any host (no Host matcher on that side of ||)";
    }
    const pinned = branch.hostCalls.some((call) => call.every((m) => m.kind === "host" && domains.some((d) => hostInDomain(m.host, d))));
    if (pinned) {
        return undefined;
    }
    const matchers = branch.hostCalls.flat();
    const unverifiable = matchers.filter((m) => m.kind === "unverifiable").map((m) => (m as { text: string }).text);
    const outside = matchers.filter((m) => m.kind === "host").map((m) => (m as { host: string }).host);
    return [
        ...(unverifiable.length > 0 ? [`matches ${unverifiable.join(", ")}, which cannot be checked against allowedDomains`] : []),
        ...(outside.length > 0 ? [`serves host ${outside.join(", ")}, outside allowedDomains`] : []),
    ].join(" and ");
}

export const appHostsInAllowedDomains: ResourceValidationPolicy = {
    name: "app-hosts-in-allowed-domains",
    description: "Every || branch of every Traefik router rule pins a host inside allowedDomains or the stack's appsDomain.",
    enforcementLevel: "mandatory",
    configSchema: configSchema("allowedDomains"),
    validateResource: validateJob((job, label, args, report) => {
        const domains = allowedDomainsOf(tunables(args.getConfig, "allowedDomains").allowedDomains, stackConfigFromEnv());
        if (domains.length === 0) {
            return args.notApplicable(`no domain (allowedDomains and ${APPS_DOMAIN_KEY} unset): apps are routed by path`);
        }
        for (const router of allRouters(job).filter((r) => r.rule !== undefined)) {
            const branches = ruleBranches(router.rule!);
            if (!branches) {
                report(`${label} router '${router.name}' has a rule that does not parse (${router.rule}), so its hosts cannot be ` +
                    `checked. Write it as Host(\`app.<allowed domain>\`) combined with && / ||.`);
                continue;
            }
            branches.forEach((branch, i) => {
                const problem = branchProblem(branch, domains);
                if (problem) {
                    const which = branches.length > 1 ? `branch ${i + 1} of ${branches.length} of its rule` : "its rule";
                    report(`${label} router '${router.name}': ${which} ${problem} (${domains.join(", ")}). Every || branch ` +
                        `must pin Host(\`app.<allowed domain>\`); add the domain to allowedDomains if it is yours.`);
                }
            });
        }
    }),
};

const CHECKSUM = /^(md5|sha1|sha256|sha512):([0-9a-fA-F]+)$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/** True for a literal go-getter checksum `<algorithm>:<hex digest>` of the right length. */
export function isPinnedChecksum(value: unknown): boolean {
    const match = typeof value === "string" ? CHECKSUM.exec(value) : null;
    return match !== null && match[2].length === DIGEST_HEX_LENGTH[match[1].toLowerCase()];
}

/** The checksum of an artifact: `GetterOptions.checksum`, else a `checksum` query parameter of the source. */
export function artifactChecksum(source: string | undefined, options: Record<string, string> | undefined): string | undefined {
    if (options?.checksum !== undefined) {
        return options.checksum;
    }
    const query = source?.split("?")[1];
    return query ? new URLSearchParams(query).get("checksum") ?? undefined : undefined;
}

/** The sums file URL of a `file:<url>` checksum the project knows (versions.ts PUBLISHED_SUMS_FILES), else undefined. */
export function publishedSumsFile(checksum: string | undefined): string | undefined {
    const url = checksum?.startsWith("file:") ? checksum.slice("file:".length) : undefined;
    return url !== undefined && PUBLISHED_SUMS_FILES.includes(url) ? url : undefined;
}

/** Every artifact of every task of `job`, with its task's name and its checksum (options or query). */
function jobArtifacts(job: NomadJob): { task: string | undefined; source: string | undefined; checksum: string | undefined }[] {
    return allTasks(job).flatMap((task) => (task.Artifacts ?? []).map((artifact) => ({
        task: task.Name, source: artifact.GetterSource, checksum: artifactChecksum(artifact.GetterSource, artifact.GetterOptions),
    })));
}

export const artifactsPinned: ResourceValidationPolicy = {
    name: "artifacts-pinned-by-checksum",
    description: "Every artifact a Nomad job downloads is checked: a literal checksum (GetterOptions.checksum), or a release's published sums file the project lists.",
    enforcementLevel: "mandatory",
    validateResource: validateJob((job, label, _args, report) => {
        for (const { task, source, checksum } of jobArtifacts(job)) {
            if (!isPinnedChecksum(checksum) && publishedSumsFile(checksum) === undefined) {
                report(`${label} task '${task}' downloads ${source} without a pinned checksum. ` +
                    `Set GetterOptions: { checksum: "sha256:<64 hex digits>" } from the release's published checksums.`);
            }
        }
    }),
};

export const artifactsPinnedByDigest: ResourceValidationPolicy = {
    name: "artifacts-pinned-by-digest",
    description: "Every artifact carries its own digest, not only a line of the publisher's sums file (which the publisher can change with the file).",
    enforcementLevel: "advisory",
    validateResource: validateJob((job, label, _args, report) => {
        for (const { task, source, checksum } of jobArtifacts(job)) {
            const sums = publishedSumsFile(checksum);
            if (sums !== undefined) {
                report(`${label} task '${task}' downloads ${source} checked only against ${sums}. ` +
                    `Record the tarball's sha256 from that file in provisioning/versions.ts (docs/bindle.md "Pinning the tarballs").`);
            }
        }
    }),
};

export const productionAppMinInstances: ResourceValidationPolicy = {
    name: "production-app-min-instances",
    description: "In production stacks every Spin app group runs at least minAppInstances instances.",
    enforcementLevel: "advisory",
    configSchema: configSchema("minAppInstances", "productionStacks"),
    validateResource: validateJob((job, label, args, report) => {
        const { minAppInstances, productionStacks } = tunables(args.getConfig, "minAppInstances", "productionStacks");
        const stack = stackOfUrn(args.urn);
        if (stack === undefined || !productionStacks.includes(stack)) {
            return args.notApplicable(`stack '${stack}' is not a production stack`);
        }
        for (const group of groupsOf(job)) {
            const count = group.Scaling?.Min ?? group.Count ?? 1;
            if (count < minAppInstances) {
                report(`${label} group '${group.Name}' runs ${count} instance(s) in production stack '${stack}'; ` +
                    `run at least ${minAppInstances} (Count, and Scaling.Min if it scales) so one node failure or ` +
                    `deployment does not take the app down.`);
            }
        }
    }, true),
};
