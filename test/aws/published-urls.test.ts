/**
 * Every HTTPS URL the AWS stacks publish verifies with the published CA: its host is a DNS name
 * or IP address of a certificate the cluster CA signs (the operator endpoint's, or the agents'
 * `localhost`/127.0.0.1 for the SSM port forwards). `https://<server private IP>` would not: the
 * servers' one certificate names no private IP.
 */
import * as assert from "assert";
import { ofType, unwrapSecrets } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";

describe("published URLs", () => {
    for (const stack of ["dev", "prod"]) {
        it(`are named by a certificate of the cluster CA (${stack})`, async () => {
            const run = await shippedStack(stack, { exampleApp: false });
            const names = new Set(ofType(run, "tls:index/certRequest:CertRequest").flatMap((r) => {
                const inputs = unwrapSecrets(r.inputs) as { dnsNames?: string[]; ipAddresses?: string[] };
                return [...(inputs.dnsNames ?? []), ...(inputs.ipAddresses ?? [])];
            }));
            const outputs = unwrapSecrets(run.outputs) as { nomadAddress: string; consulAddress: string; operatorUrls: Record<string, string> };
            const urls = [outputs.nomadAddress, outputs.consulAddress, ...Object.values(outputs.operatorUrls)];
            assert.strictEqual(urls.length, 6);
            for (const url of urls) {
                const host = new URL(url).hostname;
                assert.ok(/\.elb\.mock\.amazonaws\.com$/.test(host), `${url}: the mock gives load balancers a DNS name`);
                assert.ok(names.has(host), `${url}: ${host} is in no certificate (${[...names].join(", ")})`);
            }
            assert.strictEqual(new URL(outputs.nomadAddress).port, "4646");
            assert.strictEqual(new URL(outputs.consulAddress).port, "8501");
        });
    }
});
