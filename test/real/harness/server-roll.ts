/**
 * What the two real suites of the server roll gate (test/real/nomad/server-roll.test.ts, the Nomad
 * side; test/real/consul/server-roll.test.ts, the Consul side) share: the gate's dynamic provider
 * as Pulumi serializes it, and a TLS + ACL Nomad server on 127.0.0.1.
 */
import { writeFileSync } from "fs";
import * as https from "https";
import * as path from "path";
import { ServerRollGate } from "../../../components/aws/server-roll";
import { LoopbackPki } from "../../aws/loopback-pki";
import { evaluateStack } from "../../harness/mocks";
import { loopbackNomadBase } from "./nomad-dev";
import { freePorts } from "./runtime";

/**
 * The provider the engine would run: the serialized `__provider` of a ServerRollGate registered
 * under mocks, written to `<dir>/provider.js` and loaded.
 */
export async function rollGateProvider(dir: string, tokens: { readonly nomadToken: string; readonly consulToken: string }): Promise<any> {
    const run = await evaluateStack("unit", () => {
        new ServerRollGate("gate", { serverName: "s", serverId: "i", serverIp: "127.0.0.1", instanceType: "t", nomadAddress: "https://x:4646",
            consulAddress: "https://x:8501", caPem: "CA", ...tokens });
        return {};
    });
    const file = path.join(dir, "provider.js");
    writeFileSync(file, run.resources.find((r) => r.name === "gate")!.inputs.__provider as string);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(file).handler();
}

/**
 * Writes `<dir>/nomad.json`: a lone server (bootstrap_expect 1) with ACLs on and TLS on HTTP and
 * RPC from `pki` (hostnames not verified: the loopback certificate names 127.0.0.1), data in
 * `<dir>/<dataDirName>`. Returns the config file, the HTTPS address and the RPC port.
 */
export async function writeNomadTlsServerConfig(dir: string, pki: LoopbackPki, dataDirName: string): Promise<{ file: string; address: string; rpc: number }> {
    const [http, serf, rpc] = await freePorts(3);
    const config = {
        ...loopbackNomadBase(path.join(dir, dataDirName), { http, rpc, serf }),
        server: { enabled: true, bootstrap_expect: 1 },
        acl: { enabled: true },
        tls: { http: true, rpc: true, ca_file: pki.caFile, cert_file: pki.certFile, key_file: pki.keyFile, verify_server_hostname: false, verify_https_client: false },
    };
    const file = path.join(dir, "nomad.json");
    writeFileSync(file, JSON.stringify(config));
    return { file, address: `https://127.0.0.1:${http}`, rpc };
}

/** One HTTPS request to 127.0.0.1 trusting `caPem`, JSON body, the token in `tokenHeader`; status and text. */
export function httpsCall(method: string, url: string, caPem: string, body?: unknown, token?: string, tokenHeader = "X-Consul-Token"): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const headers: Record<string, string> = { "content-type": "application/json", ...(token ? { [tokenHeader]: token } : {}) };
        const req = https.request(url, { method, ca: caPem, agent: false, timeout: 5000, headers }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => { text += c; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}
