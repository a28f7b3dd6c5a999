import { strict as assert } from "assert";
import { renderConsulAgentConfig } from "../../provisioning/agents/consul-config";
import {
    localConsulAgentConfig,
    localConsulSecrets,
    localNomadAgentConfig,
    localNomadSecrets,
    LOOPBACK_INTERFACE_TEMPLATE,
    renderLocalConsulAgentConfig,
    renderLocalNomadAgentConfig,
} from "../../provisioning/local/agent-config";
import { LocalNode, localLayout } from "../../provisioning/local/node";
import { localPorts } from "../../provisioning/loopback";
import { renderNomadAgentConfig } from "../../provisioning/agents/nomad-config";
import { BINDLE_HOST_VOLUME } from "../../provisioning/platform";
import { SAMPLE_NODES } from "../fixtures/nodes";
import { strings } from "../harness/walk";
import { keyPaths, lastSegment } from "../harness/walk";

const BIN = "/home/u/.cache/spin-cloud/bin";

const NODE: LocalNode = {
    role: "local",
    architecture: "x86_64",
    clusterName: "spin-cloud-local",
    nomadRegion: "global",
    datacenter: "local",
    nodeClass: "spin",
    ports: localPorts(10000),
    layout: localLayout("/home/u/.spin-cloud/local"),
    binaries: {
        consul: `${BIN}/consul`,
        nomad: `${BIN}/nomad`,
        traefik: `${BIN}/traefik`,
        bindleServer: `${BIN}/bindle-server`,
        spin: `${BIN}/spin`,
    },
};

const SECRET_KEYS = new Set(["encrypt", "token", "tokens", "initial_management", "agent_recovery", "key_file", "cert_file"]);
/** UUIDs (Consul/Nomad token SecretIDs) and 32-byte base64 keys (gossip keys). */
const SECRET_VALUE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|^[A-Za-z0-9+/]{43}=$/i;

const renderers: ReadonlyArray<readonly [string, (node: LocalNode) => string]> = [
    ["consul", renderLocalConsulAgentConfig],
    ["nomad", renderLocalNomadAgentConfig],
];

describe("local consul agent config", () => {
    const config = localConsulAgentConfig(NODE);

    it("binds every listener to 127.0.0.1 and advertises it", () => {
        assert.equal(config.bind_addr, "127.0.0.1");
        assert.equal(config.advertise_addr, "127.0.0.1");
        assert.equal(config.client_addr, "127.0.0.1");
        assert.equal("addresses" in config, false, "no per-listener address may widen client_addr");
        // Every string that looks like an address is the loopback.
        for (const [path, value] of strings(config)) {
            if (/^\d+\.\d+\.\d+\.\d+/.test(value) || value.includes("{{")) {
                assert.equal(value, "127.0.0.1", path);
            }
        }
    });

    it("takes every port from node.ports and disables the TLS listeners", () => {
        assert.deepEqual(config.ports, {
            http: 18500,
            https: -1,
            grpc: 18502,
            grpc_tls: -1,
            dns: 18600,
            server: 18300,
            serf_lan: 18301,
            serf_wan: 18302,
        });
        const p = NODE.ports;
        assert.deepEqual(
            [config.ports.http, config.ports.grpc, config.ports.dns, config.ports.server, config.ports.serf_lan, config.ports.serf_wan],
            [p.consulHttp, p.consulGrpc, p.consulDns, p.consulServer, p.consulSerfLan, p.consulSerfWan],
        );
    });

    it("is a single server expecting itself, named after the cluster, with its data in the layout", () => {
        assert.equal(config.server, true);
        assert.equal(config.bootstrap_expect, 1);
        assert.equal(config.node_name, "spin-cloud-local");
        assert.equal(config.datacenter, "local");
        assert.equal(config.primary_datacenter, "local");
        assert.equal(config.data_dir, "/home/u/.spin-cloud/local/consul/data");
        assert.equal(config.data_dir, NODE.layout.consul.dataDir);
        assert.equal("retry_join" in config, false);
    });

    it("enables ACLs with default deny, the UI, and no script checks", () => {
        assert.deepEqual(config.acl, { enabled: true, default_policy: "deny", down_policy: "extend-cache", enable_token_persistence: true });
        assert.deepEqual(config.ui_config, { enabled: true });
        assert.equal(config.enable_script_checks, false);
    });

    it("has no TLS, auto_encrypt or gossip key", () => {
        for (const key of ["tls", "auto_encrypt", "encrypt", "connect"]) {
            assert.equal(key in config, false, key);
        }
    });

    it("follows the port offset", () => {
        const other = localConsulAgentConfig({ ...NODE, ports: localPorts(20000) });
        assert.equal(other.ports.http, 28500);
        assert.equal(other.ports.serf_wan, 28302);
    });

    it("refuses a cluster name that is not a DNS label", () => {
        assert.throws(() => localConsulAgentConfig({ ...NODE, clusterName: "my.laptop" }), /not a DNS label/);
        assert.throws(() => localNomadAgentConfig({ ...NODE, clusterName: "-x" }), /not a DNS label/);
    });
});

describe("local nomad agent config", () => {
    const config = localNomadAgentConfig(NODE);

    it("binds and advertises 127.0.0.1 with the ports of node.ports", () => {
        assert.equal(config.bind_addr, "127.0.0.1");
        assert.deepEqual(config.advertise, { http: "127.0.0.1", rpc: "127.0.0.1", serf: "127.0.0.1" });
        assert.equal("addresses" in config, false, "no per-listener address may widen bind_addr");
        assert.deepEqual(config.ports, { http: 14646, rpc: 14647, serf: 14648 });
        assert.deepEqual(config.ports, { http: NODE.ports.nomadHttp, rpc: NODE.ports.nomadRpc, serf: NODE.ports.nomadSerf });
    });

    it("is server (bootstrap_expect 1, no join) and client in one agent", () => {
        assert.deepEqual(config.server, { enabled: true, bootstrap_expect: 1 });
        assert.equal(config.client.enabled, true);
        assert.equal(config.client.node_class, "spin");
        assert.equal(config.name, "spin-cloud-local");
        assert.equal(config.region, "global");
        assert.equal(config.datacenter, "local");
        assert.equal(config.data_dir, NODE.layout.nomad.dataDir);
    });

    it("fingerprints the loopback, preferring its IPv4 address", () => {
        assert.equal(config.client.network_interface, LOOPBACK_INTERFACE_TEMPLATE);
        assert.equal(LOOPBACK_INTERFACE_TEMPLATE, '{{ GetAllInterfaces | include "flags" "loopback" | include "type" "IPv4" | attr "name" }}');
        assert.equal(config.client.preferred_address_family, "ipv4");
    });

    it("keeps the agents' ports out of Nomad's port assignment", () => {
        assert.equal(config.client.reserved.reserved_ports, "14646,14647,14648,18300,18301,18302,18500,18502,18600");
        const reserved = config.client.reserved.reserved_ports.split(",").map(Number);
        for (const port of [NODE.ports.traefikWeb, NODE.ports.traefikDashboard, NODE.ports.traefikPing, NODE.ports.bindle]) {
            assert.equal(reserved.includes(port), false, `job port ${port} must stay claimable`);
        }
    });

    it("exposes Bindle's host volume at the layout's path", () => {
        assert.equal(BINDLE_HOST_VOLUME.name, "bindle-data");
        assert.deepEqual(config.client.host_volume, [{ "bindle-data": [{ path: "/home/u/.spin-cloud/local/bindle", read_only: false }] }]);
        assert.equal(config.client.host_volume[0][BINDLE_HOST_VOLUME.name][0].path, NODE.layout.bindleData);
    });

    it("enables raw_exec only: no exec or docker plugin, the allowlist names raw_exec alone", () => {
        assert.deepEqual(config.plugin, [{ raw_exec: [{ config: [{ enabled: true }] }] }]);
        const text = renderLocalNomadAgentConfig(NODE);
        assert.doesNotMatch(text, /"(exec|docker)"/);
        assert.deepEqual(config.client.options, { "driver.allowlist": "raw_exec" });
    });

    it("talks to the local Consul over loopback HTTP and gRPC, without auto-join", () => {
        assert.deepEqual(config.consul, {
            address: "127.0.0.1:18500",
            ssl: false,
            grpc_address: "127.0.0.1:18502",
            auto_advertise: true,
            server_auto_join: false,
            client_auto_join: false,
        });
        const consul = localConsulAgentConfig(NODE);
        assert.equal(config.consul.address, `${consul.client_addr}:${consul.ports.http}`);
        assert.equal(config.consul.grpc_address, `${consul.client_addr}:${consul.ports.grpc}`);
    });

    it("enables ACLs, keeps the AWS telemetry and has no TLS", () => {
        assert.deepEqual(config.acl, { enabled: true });
        assert.deepEqual(config.telemetry, { disable_hostname: true, prometheus_metrics: true, publish_allocation_metrics: true, publish_node_metrics: true });
        assert.equal("tls" in config, false);
        assert.equal("encrypt" in config.server, false);
    });

    it("every address-like string is the loopback", () => {
        for (const [path, value] of strings(config)) {
            const ip = /^(\d+\.\d+\.\d+\.\d+)(:\d+)?$/.exec(value);
            if (ip) {
                assert.equal(ip[1], "127.0.0.1", path);
            }
        }
    });
});

describe("rendered local agent configs", () => {
    for (const [name, render] of renderers) {
        it(`${name}: holds no secret key at any depth and no secret-looking value`, () => {
            const parsed = JSON.parse(render(NODE));
            const keys = keyPaths(parsed);
            assert.ok(keys.length > 15, `${name} walked too few keys`);
            assert.deepEqual(keys.filter((path) => SECRET_KEYS.has(lastSegment(path))), []);
            for (const [path, value] of strings(parsed)) {
                assert.doesNotMatch(value, SECRET_VALUE, path);
            }
        });

        it(`${name}: is deterministic, pretty JSON ending in a newline`, () => {
            const text = render(NODE);
            assert.equal(text, render(structuredClone(NODE)));
            assert.ok(text.endsWith("}\n"));
            assert.equal(text, JSON.stringify(JSON.parse(text), null, 2) + "\n");
        });
    }

    it("the secret-value check catches a token and a gossip key", () => {
        assert.match("6a0c3a4e-1c55-4d4e-9d43-2f4bd0a4a1c2", SECRET_VALUE);
        assert.match("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=", SECRET_VALUE);
        assert.doesNotMatch(LOOPBACK_INTERFACE_TEMPLATE, SECRET_VALUE);
    });

    it("leaves the AWS renderers' output unchanged by the shared pieces", () => {
        for (const node of SAMPLE_NODES) {
            const consul = JSON.parse(renderConsulAgentConfig(node));
            const nomad = JSON.parse(renderNomadAgentConfig(node));
            assert.ok(Array.isArray(consul.retry_join) && consul.tls);
            assert.deepEqual(Object.keys(nomad.telemetry), ["disable_hostname", "prometheus_metrics", "publish_allocation_metrics", "publish_node_metrics"]);
            assert.deepEqual(Object.keys(nomad).slice(-3), ["acl", "tls", "telemetry"]);
        }
    });
});

describe("local agent secrets", () => {
    const management = "6a0c3a4e-1c55-4d4e-9d43-2f4bd0a4a1c2";
    const agent = "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b";

    it("builds the Consul fragment with the keys the agent merges", () => {
        assert.deepEqual(localConsulSecrets({ managementToken: management, agentToken: agent }), {
            acl: { tokens: { agent, initial_management: management } },
        });
        assert.deepEqual(localConsulSecrets({ managementToken: management, agentToken: agent, dnsToken: "d" }).acl.tokens, {
            agent,
            dns: "d",
            initial_management: management,
        });
    });

    it("builds the Nomad fragment with its Consul token", () => {
        assert.deepEqual(localNomadSecrets({ consulToken: agent }), { consul: { token: agent } });
    });

    it("refuses empty or spaced tokens", () => {
        assert.throws(() => localConsulSecrets({ managementToken: "", agentToken: agent }), /managementToken/);
        assert.throws(() => localConsulSecrets({ managementToken: management, agentToken: "a b" }), /agentToken/);
        assert.throws(() => localNomadSecrets({ consulToken: "x\n" }), /consulToken/);
    });

    it("the fragments merge onto the configs without overwriting a non-secret key", () => {
        const consul = localConsulAgentConfig(NODE);
        const secrets = localConsulSecrets({ managementToken: management, agentToken: agent });
        assert.equal("tokens" in consul.acl, false);
        assert.deepEqual(Object.keys(secrets), ["acl"]);
        const nomad = localNomadAgentConfig(NODE);
        assert.equal("token" in nomad.consul, false);
    });
});
