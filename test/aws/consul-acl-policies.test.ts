import { strict as assert } from "assert";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../provisioning/agents/consul-acl-policies";

describe("consul ACL policies", () => {
    const byToken = new Map(CONSUL_ACL_POLICIES.map((p) => [p.token, p]));

    it("has one uniquely named policy per agent token", () => {
        assert.deepEqual([...byToken.keys()].sort(), ["consul-agent-token", "consul-dns-token", "consul-nomad-token", "consul-traefik-token"]);
        assert.equal(new Set(CONSUL_ACL_POLICIES.map((p) => p.name)).size, CONSUL_ACL_POLICIES.length);
        for (const policy of CONSUL_ACL_POLICIES) {
            assert.match(policy.name, /^[A-Za-z0-9_-]+$/);
            assert.ok(policy.description.length > 0);
        }
    });

    it("renders rules as JSON that parses back to the rules", () => {
        for (const policy of CONSUL_ACL_POLICIES) {
            const text = renderConsulPolicyRules(policy);
            assert.ok(text.endsWith("\n"));
            assert.deepEqual(JSON.parse(text), policy.rules);
        }
    });

    it("lets agents write their node and read services", () => {
        assert.deepEqual(JSON.parse(renderConsulPolicyRules(byToken.get("consul-agent-token")!)), {
            node_prefix: { "": { policy: "write" } },
            service_prefix: { "": { policy: "read" } },
        });
    });

    it("lets the DNS token only read services, nodes and prepared queries", () => {
        assert.deepEqual(JSON.parse(renderConsulPolicyRules(byToken.get("consul-dns-token")!)), {
            node_prefix: { "": { policy: "read" } },
            service_prefix: { "": { policy: "read" } },
            query_prefix: { "": { policy: "read" } },
        });
    });

    it("gives Nomad agents Nomad's client policy and no ACL or mesh write", () => {
        const rules: Record<string, unknown> = JSON.parse(renderConsulPolicyRules(byToken.get("consul-nomad-token")!));
        assert.equal("acl" in rules, false);
        assert.equal("mesh" in rules, false);
        assert.deepEqual(rules, {
            agent_prefix: { "": { policy: "read" } },
            node_prefix: { "": { policy: "write" } },
            service_prefix: { "": { policy: "write" } },
        });
    });
});
