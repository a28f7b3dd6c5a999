/**
 * A refused parcel upload is read, not lost in EPIPE: bindle-server (hyper) answers 409/403 without
 * reading the body and closes the connection; the client sends large bodies after `100 Continue` only.
 */
import * as assert from "assert";
import * as http from "http";
import { bindleClient } from "../../components/bindle/client";

describe("Bindle client: parcel uploads wait for 100 Continue", () => {
    let server: http.Server;
    let url = "";
    before(async () => {
        // Like hyper: answer at once without reading the body, then drop the connection.
        const refuse = (_req: http.IncomingMessage, res: http.ServerResponse) => {
            res.writeHead(409, { "Content-Type": "application/toml", Connection: "close" });
            res.end('error = "resource already exists"\n', () => res.socket?.destroy());
        };
        // A large body sent without `Expect: 100-continue` is what ends in EPIPE against the real server
        // (test/real/bindle/integrity.test.ts); here it is answered 500 so the test sees it.
        server = http.createServer((_req, res) => { res.writeHead(500); res.end('error = "body sent without Expect: 100-continue"\n'); });
        server.on("checkContinue", refuse);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it("reads the 409 of a large upload the server refuses before its body", async () => {
        const client = bindleClient({ serverUrl: url, username: "u", password: "p", maxAttempts: 1 });
        assert.strictEqual(await client.uploadParcel("a/1.0.0", "a".repeat(64), Buffer.alloc(8 * 1024 * 1024)), "exists");
    });
});
