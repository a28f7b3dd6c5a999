import { strict as assert } from "assert";
import * as YAML from "yaml";
import { TRAEFIK_KILL_TIMEOUT_SECONDS } from "../../provisioning/jobs/traefik-job";
import { TRAEFIK_PORTS } from "../../provisioning/platform";
import {
    renderTraefikStaticConfig,
    TRAEFIK_LIFECYCLE_SECONDS,
    traefikStaticConfig,
} from "../../provisioning/jobs/traefik-config";
import { closeObjects, compileStrict, describeErrors, readSchema } from "../harness/schemas";
import { INPUT, keyPaths } from "../harness/traefik-fixtures";

/**
 * SchemaStore's traefik-v3.json with every object schema closed. It compiles in ajv's strict mode
 * as shipped (draft-07, `$defs`), so nothing is adapted.
 */
const validateStatic = compileStrict(closeObjects(readSchema("traefik-v3.json")));

function assertValidStatic(config: unknown): void {
    assert.ok(validateStatic(config), describeErrors(validateStatic));
}

const portOf = (address: string): number => Number(/:(\d+)$/.exec(address)?.[1]);

describe("traefik static configuration", () => {
    const config = traefikStaticConfig(INPUT);
    const parsed = YAML.parse(renderTraefikStaticConfig(INPUT));

    it("renders exactly the typed object, deterministically", () => {
        assert.deepEqual(parsed, config);
        assert.equal(renderTraefikStaticConfig(INPUT), renderTraefikStaticConfig({ ...INPUT }));
    });

    it("listens on the platform ports: web, traefik (dashboard) and ping", () => {
        assert.deepEqual(Object.keys(parsed.entryPoints).sort(), ["ping", "traefik", "web"]);
        assert.equal(parsed.entryPoints.web.address, `:${TRAEFIK_PORTS.web}`);
        assert.equal(parsed.entryPoints.traefik.address, `:${TRAEFIK_PORTS.dashboard}`);
        assert.equal(parsed.entryPoints.ping.address, `:${TRAEFIK_PORTS.ping}`);
    });

    it("trusts X-Forwarded-* only on web and only from the VPC", () => {
        assert.deepEqual(parsed.entryPoints.web.forwardedHeaders, { trustedIPs: [INPUT.vpcCidr] });
        const other = YAML.parse(renderTraefikStaticConfig({ vpcCidr: "172.16.0.0/20" }));
        assert.deepEqual(other.entryPoints.web.forwardedHeaders.trustedIPs, ["172.16.0.0/20"]);
        assert.equal(parsed.entryPoints.traefik.forwardedHeaders, undefined);
        assert.equal(parsed.entryPoints.ping.forwardedHeaders, undefined);
        assert.ok(!keyPaths(parsed).some((p) => /insecure$/.test(p) && p !== "api.insecure"), "no forwardedHeaders.insecure");
    });

    it("makes web the only default entry point for app routers", () => {
        const defaults = Object.entries(parsed.entryPoints).filter(([, ep]) => (ep as { asDefault?: boolean }).asDefault === true);
        assert.deepEqual(defaults.map(([name]) => name), ["web"]);
    });

    it("serves API and dashboard on the traefik entry point only, never on the web port", () => {
        assert.deepEqual(parsed.api, { dashboard: true, insecure: true });
        assert.notEqual(portOf(parsed.entryPoints.traefik.address), TRAEFIK_PORTS.web);
        assert.equal(portOf(parsed.entryPoints.traefik.address), TRAEFIK_PORTS.dashboard);
        // Only the Consul catalog provider: no file/http provider that could route api@internal.
        assert.deepEqual(Object.keys(parsed.providers), ["consulCatalog"]);
    });

    it("answers /ping on its own entry point", () => {
        assert.deepEqual(parsed.ping, { entryPoint: "ping" });
        assert.ok(parsed.entryPoints[parsed.ping.entryPoint]);
    });

    it("logs JSON at INFO, exposes Prometheus on the operator entry point, phones nobody", () => {
        assert.equal(parsed.accessLog.format, "json");
        assert.equal(parsed.log.level, "INFO");
        assert.equal(parsed.metrics.prometheus.entryPoint, "traefik");
        assert.deepEqual(parsed.global, { checkNewVersion: false, sendAnonymousUsage: false });
    });

    it("reads the local Consul agent over plain HTTP and routes only opted-in services", () => {
        const catalog = parsed.providers.consulCatalog;
        assert.equal(catalog.exposedByDefault, false);
        assert.equal(catalog.connectAware, false);
        assert.equal(catalog.prefix, "traefik");
        assert.deepEqual(catalog.endpoint, { address: "127.0.0.1:8500", scheme: "http" });
        assert.equal(traefikStaticConfig({ ...INPUT, tagPrefix: "edge" }).providers.consulCatalog.prefix, "edge");
    });

    it("holds no token and no template action", () => {
        const text = renderTraefikStaticConfig(INPUT);
        assert.ok(!keyPaths(parsed).some((p) => /token/i.test(p)), keyPaths(parsed).join(", "));
        assert.ok(!/token/i.test(text));
        assert.ok(!text.includes("{{"));
    });

    it("stops gracefully before Nomad's kill timeout", () => {
        assert.deepEqual(parsed.entryPoints.web.transport.lifeCycle, {
            requestAcceptGraceTimeout: `${TRAEFIK_LIFECYCLE_SECONDS.requestAcceptGrace}s`,
            graceTimeOut: `${TRAEFIK_LIFECYCLE_SECONDS.grace}s`,
        });
        assert.ok(TRAEFIK_LIFECYCLE_SECONDS.requestAcceptGrace + TRAEFIK_LIFECYCLE_SECONDS.grace < TRAEFIK_KILL_TIMEOUT_SECONDS);
    });

    it("refuses a malformed VPC CIDR or tag prefix", () => {
        for (const vpcCidr of ["10.40.0.0", "10.300.0.0/16", "10.40.0.0/33", "any", ""]) {
            assert.throws(() => traefikStaticConfig({ vpcCidr }), /vpcCidr/, vpcCidr);
        }
        for (const tagPrefix of ["", "Traefik", "tr.aefik", "{{x}}"]) {
            assert.throws(() => traefikStaticConfig({ ...INPUT, tagPrefix }), /tagPrefix/, tagPrefix);
        }
    });

    it("is valid against the closed traefik-v3 schema", () => {
        assertValidStatic(parsed);
        assertValidStatic(YAML.parse(renderTraefikStaticConfig({ vpcCidr: "192.168.0.0/24", tagPrefix: "edge" })));
    });

    it("the closed schema rejects misspelt keys at any depth", () => {
        const misspelt: Array<(c: any) => void> = [
            (c) => { c.entryPoints.web.adress = c.entryPoints.web.address; },
            (c) => { c.providers.consulCatalog.exposedByDefualt = false; },
            (c) => { c.providers.consulCatalog.endpoint.tokn = "x"; },
            (c) => { c.accesslog = { format: "json" }; },
            (c) => { c.entryPoints.web.forwardedHeaders.trustedIps = ["10.0.0.0/8"]; },
        ];
        for (const mutate of misspelt) {
            const copy = structuredClone(parsed);
            mutate(copy);
            assert.equal(validateStatic(copy), false, mutate.toString());
            assert.ok(validateStatic.errors?.some((e) => e.keyword === "additionalProperties"), describeErrors(validateStatic));
        }
    });
});
