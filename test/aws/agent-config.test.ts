import { strict as assert } from "assert";
import {
    awsCloudAutoJoin,
    consulAgentConfig,
    CONSUL_PORTS,
    renderConsulAgentConfig,
} from "../../provisioning/agents/consul-config";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { nomadAgentConfig, renderNomadAgentConfig } from "../../provisioning/agents/nomad-config";
import { ClientNode, NodeProvisioning } from "../../provisioning/types";
import { SAMPLE_CLIENT, SAMPLE_CLUSTER, SAMPLE_NODES, SAMPLE_SERVER } from "../fixtures/nodes";
import { keyPaths, lastSegment } from "../harness/walk";
import { nomadUnit } from "../../provisioning/aws/systemd-units";

const EXPECTED_JOIN = "provider=aws tag_key=spin-cloud:join tag_value=spin-cloud-test region=eu-west-1";
const SECRET_KEYS = new Set(["encrypt", "token", "tokens", "initial_management", "agent_recovery"]);

const renderers: ReadonlyArray<readonly [string, (node: NodeProvisioning) => string]> = [
    ["consul", renderConsulAgentConfig],
    ["nomad", renderNomadAgentConfig],
];

describe("cloud auto-join", () => {
    it("is the go-discover AWS string for the join tag", () => {
        assert.equal(awsCloudAutoJoin(SAMPLE_CLUSTER), EXPECTED_JOIN);
    });

    it("quotes values go-discover would split", () => {
        const cluster = { ...SAMPLE_CLUSTER, joinTag: { key: "role", value: 'a b="c"' } };
        assert.equal(awsCloudAutoJoin(cluster), 'provider=aws tag_key=role tag_value="a b=\\"c\\"" region=eu-west-1');
    });
});

describe("consul agent config", () => {
    const server = consulAgentConfig(SAMPLE_SERVER);
    const client = consulAgentConfig(SAMPLE_CLIENT);

    it("runs servers in server mode expecting serverCount peers", () => {
        assert.equal(server.server, true);
        assert.equal(server.bootstrap_expect, 3);
        assert.equal(consulAgentConfig({ ...SAMPLE_SERVER, cluster: { ...SAMPLE_CLUSTER, serverCount: 5 } }).bootstrap_expect, 5);
        assert.equal(client.server, false);
        assert.equal("bootstrap_expect" in client, false);
    });

    it("joins the datacenter through the servers' EC2 tag", () => {
        for (const config of [server, client]) {
            assert.equal(config.datacenter, "dc-test");
            assert.equal(config.data_dir, NODE_LAYOUT.consul.dataDir);
            assert.deepEqual(config.retry_join, [EXPECTED_JOIN]);
            assert.equal(config.bind_addr, "{{ GetPrivateIP }}");
            assert.equal(config.advertise_addr, "{{ GetPrivateIP }}");
        }
    });

    it("enables ACLs with default deny", () => {
        for (const config of [server, client]) {
            assert.deepEqual(config.acl, {
                enabled: true,
                default_policy: "deny",
                down_policy: "extend-cache",
                enable_token_persistence: true,
            });
        }
    });

    it("gives servers the layout's certificate files and verified RPC", () => {
        assert.deepEqual(server.tls.defaults, {
            ca_file: NODE_LAYOUT.tls.caFile,
            cert_file: NODE_LAYOUT.tls.certFile,
            key_file: NODE_LAYOUT.tls.keyFile,
            verify_incoming: true,
            verify_outgoing: true,
        });
        assert.equal(server.tls.internal_rpc.verify_server_hostname, true);
        assert.deepEqual(server.auto_encrypt, { allow_tls: true });
        assert.equal(server.connect.enabled, true);
    });

    it("lets clients fetch their certificate through auto_encrypt, verifying servers with the CA", () => {
        assert.deepEqual(client.tls.defaults, { ca_file: NODE_LAYOUT.tls.caFile, verify_incoming: false, verify_outgoing: true });
        assert.equal(client.tls.internal_rpc.verify_server_hostname, true);
        assert.deepEqual(client.auto_encrypt, { tls: true });
    });

    it("keeps plain HTTP on loopback and TLS listeners only where a CA-verifiable cert exists", () => {
        for (const config of [server, client]) {
            assert.equal(config.client_addr, "127.0.0.1");
            assert.equal(config.ports.http, 8500);
            assert.equal(config.ports.dns, 8600);
        }
        assert.equal(server.ports.https, 8501);
        assert.equal(server.ports.grpc_tls, 8503);
        assert.equal(server.ports.grpc, -1);
        assert.deepEqual(server.addresses, { https: "127.0.0.1 {{ GetPrivateIP }}", grpc_tls: "127.0.0.1 {{ GetPrivateIP }}" });
        assert.equal(client.ports.https, -1);
        assert.equal(client.ports.grpc_tls, -1);
        assert.equal(client.ports.grpc, 8502);
        assert.equal(client.addresses, undefined);
    });

    it("serves the UI on servers only and disables script checks", () => {
        assert.equal(server.ui_config.enabled, true);
        assert.equal(client.ui_config.enabled, false);
        assert.equal(server.enable_script_checks, false);
        assert.equal(client.enable_script_checks, false);
    });
});

describe("nomad agent config", () => {
    const server = nomadAgentConfig(SAMPLE_SERVER);
    const client = nomadAgentConfig(SAMPLE_CLIENT);

    it("names region and datacenter and advertises the private IP", () => {
        for (const config of [server, client]) {
            assert.equal(config.region, "global");
            assert.equal(config.datacenter, "dc-test");
            assert.equal(config.data_dir, NODE_LAYOUT.nomad.dataDir);
            assert.equal(config.bind_addr, "{{ GetPrivateIP }}");
            assert.deepEqual(config.advertise, { http: "{{ GetPrivateIP }}", rpc: "{{ GetPrivateIP }}", serf: "{{ GetPrivateIP }}" });
        }
    });

    it("enables the server with bootstrap_expect and cloud auto-join on servers only", () => {
        assert.deepEqual(server.server, { enabled: true, bootstrap_expect: 3, server_join: { retry_join: [EXPECTED_JOIN] } });
        assert.equal(nomadAgentConfig({ ...SAMPLE_SERVER, cluster: { ...SAMPLE_CLUSTER, serverCount: 5 } }).server?.bootstrap_expect, 5);
        assert.equal(server.client, undefined);
        assert.equal(client.server, undefined);
    });

    it("enables the client with its node class, host volumes and the exec plugin (no docker) as labelled JSON blocks", () => {
        assert.deepEqual(client.client, {
            enabled: true,
            node_class: "spin",
            host_volume: [{ "bindle-data": [{ path: "/srv/bindle", read_only: false }] }],
            drain_on_shutdown: { deadline: "2m" },
        });
        // A stopping client drains first (SIGINT is the unit's KillSignal); servers do not leave on it.
        assert.equal(client.leave_on_interrupt, true);
        assert.equal(server.leave_on_interrupt, undefined);
        const unit = (nomadUnit().doc as unknown as Record<string, Record<string, string>>).Service;
        assert.equal(unit.KillSignal, "SIGINT");
        assert.ok(Number(unit.TimeoutStopSec) > 120, `TimeoutStopSec ${unit.TimeoutStopSec} must outlast the 2m drain`);
        assert.deepEqual(client.plugin, [
            { exec: [{ config: [{ default_pid_mode: "private", default_ipc_mode: "private", no_pivot_root: false }] }] },
        ]);
        assert.equal(server.plugin, undefined);
    });

    it("keeps host volume order, omits an empty list and rejects duplicate names", () => {
        const two: ClientNode = {
            ...SAMPLE_CLIENT,
            hostVolumes: [
                { name: "b", path: "/b", readOnly: true },
                { name: "a", path: "/a", readOnly: false },
            ],
        };
        assert.deepEqual(nomadAgentConfig(two).client?.host_volume, [
            { b: [{ path: "/b", read_only: true }] },
            { a: [{ path: "/a", read_only: false }] },
        ]);
        assert.equal("host_volume" in (nomadAgentConfig({ ...SAMPLE_CLIENT, hostVolumes: [] }).client ?? {}), false);
        const dup: ClientNode = { ...SAMPLE_CLIENT, hostVolumes: [two.hostVolumes[0], two.hostVolumes[0]] };
        assert.throws(() => nomadAgentConfig(dup), /duplicate Nomad host volume name: b/);
    });

    it("talks to the local Consul agent: HTTPS with the CA on servers, loopback HTTP on clients", () => {
        assert.deepEqual(server.consul, {
            address: "127.0.0.1:8501",
            ssl: true,
            ca_file: NODE_LAYOUT.tls.caFile,
            verify_ssl: true,
            auto_advertise: true,
            server_auto_join: true,
        });
        assert.deepEqual(client.consul, {
            address: "127.0.0.1:8500",
            ssl: false,
            grpc_address: "127.0.0.1:8502",
            auto_advertise: true,
            client_auto_join: true,
        });
        assert.equal(client.consul.address, `127.0.0.1:${CONSUL_PORTS.http}`);
    });

    it("enables ACLs, mutual RPC TLS with the layout's files and hostname checks", () => {
        for (const config of [server, client]) {
            assert.deepEqual(config.acl, { enabled: true });
            assert.deepEqual(config.tls, {
                http: true,
                rpc: true,
                ca_file: NODE_LAYOUT.tls.caFile,
                cert_file: NODE_LAYOUT.tls.certFile,
                key_file: NODE_LAYOUT.tls.keyFile,
                verify_server_hostname: true,
                verify_https_client: false,
            });
            assert.deepEqual(config.telemetry, {
                disable_hostname: true,
                prometheus_metrics: true,
                publish_allocation_metrics: true,
                publish_node_metrics: true,
            });
        }
    });
});

describe("rendered agent configs", () => {
    for (const [name, render] of renderers) {
        it(`${name}: holds no secret key at any depth`, () => {
            for (const node of SAMPLE_NODES) {
                const keys = keyPaths(JSON.parse(render(node)));
                assert.ok(keys.length > 20, `${name} walked too few keys`);
                assert.deepEqual(keys.filter((path) => SECRET_KEYS.has(lastSegment(path))), []);
            }
        });

        it(`${name}: is deterministic, pretty JSON ending in a newline`, () => {
            for (const node of SAMPLE_NODES) {
                const text = render(node);
                assert.equal(text, render(structuredClone(node)));
                assert.ok(text.endsWith("}\n"));
                assert.equal(text, JSON.stringify(JSON.parse(text), null, 2) + "\n");
            }
        });
    }

    it("the secret-key walk finds a nested token", () => {
        const paths = keyPaths({ consul: [{ token: "x" }], acl: { tokens: { agent: "y" } } });
        assert.deepEqual(paths.filter((p) => SECRET_KEYS.has(lastSegment(p))), ["consul[0].token", "acl.tokens"]);
    });
});
