import { strict as assert } from "assert";
import { AGENT_CERT_ALLOWED_USES, certificateSubject } from "../../provisioning/aws/pki";
import { SAMPLE_CLUSTER } from "../fixtures/nodes";

describe("certificate names", () => {
    it("server certificates name the Nomad and Consul server identities plus loopback", () => {
        assert.deepEqual(certificateSubject("server", SAMPLE_CLUSTER), {
            commonName: "server.global.nomad",
            dnsNames: ["server.global.nomad", "server.dc-test.consul", "localhost"],
            ipAddresses: ["127.0.0.1"],
        });
    });

    it("client certificates name the Nomad client identity plus loopback, never a server name", () => {
        const subject = certificateSubject("client", { ...SAMPLE_CLUSTER, nomadRegion: "eu" });
        assert.deepEqual(subject, { commonName: "client.eu.nomad", dnsNames: ["client.eu.nomad", "localhost"], ipAddresses: ["127.0.0.1"] });
        assert.ok(subject.dnsNames.every((n) => !n.startsWith("server.")));
    });

    it("agent certificates are usable as TLS server and client", () => {
        assert.ok(AGENT_CERT_ALLOWED_USES.includes("server_auth"));
        assert.ok(AGENT_CERT_ALLOWED_USES.includes("client_auth"));
    });
});
