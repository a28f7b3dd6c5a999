/**
 * The push's readiness wait (components/bindle/ready.ts) against real bindle-server 0.8.2 and
 * 0.9.1: the real /healthz bodies are what healthProblem accepts, and a push started before the
 * server is up waits for it and succeeds (issue 13, "Pushes right after Bindle's deployment").
 */
import * as assert from "assert";
import { bindlePushProvider as provider } from "../../../components/apps/bindle-push";
import { bindleClient } from "../../../components/bindle/client";
import { healthProblem, healthUrl } from "../../../components/bindle/ready";
import { BINDLE_VERSIONS, bindleBinary, PreparedBindle, RealBindle, startBindle } from "../harness/bindle-server";
import { freePort, itWith, Processes, request, tempDir } from "../harness/runtime";
import { appCopy, inputsFor } from "./app";

const START_DELAY_MS = 3_000;

for (const version of BINDLE_VERSIONS) {
    describe(`BindlePush readiness against real bindle-server ${version}`, function () {
        const bin = [bindleBinary(version)];
        const processes = new Processes(tempDir(`bindle-ready-logs-${version}`));
        let b: (RealBindle & { close(): Promise<void> }) | undefined;
        after(async () => { await b?.close(); await processes.stopAll(); });

        itWith(bin, "a push started before the server listens waits for its /healthz streak and succeeds", async () => {
            const dir = appCopy(processes.keepDir(tempDir(`app-ready-${version}`)));
            const port = await freePort();
            let push: Promise<{ outs?: { bindleId: string } }> | undefined;
            let pushStarted = 0;
            b = await startBindle(version, processes, {
                port,
                startDelayMs: START_DELAY_MS,
                onPrepared: (prepared: PreparedBindle) => {
                    pushStarted = Date.now();
                    // Directly at the server's port, which nothing listens on yet: ECONNREFUSED until it starts.
                    push = provider.create(inputsFor(prepared, dir, { readiness: { consecutive: 3, intervalMs: 250, timeoutMs: 60_000 } }));
                    push.catch(() => undefined);
                },
            });
            const { outs } = await push!;
            const took = Date.now() - pushStarted;
            assert.ok(took >= START_DELAY_MS, `the push waited for the server (${took} ms)`);
            assert.ok(took < 30_000, `and stopped waiting soon after it was up (${took} ms)`);
            const client = bindleClient({ serverUrl: b.directUrl, username: b.username, password: b.password, backoffMs: 50 });
            assert.deepStrictEqual(await client.getMissingParcels(outs!.bindleId), [], "every parcel is on the server");
        });

        itWith(bin, "the server's own /healthz answer is accepted (0.8.2 plain OK, 0.9.1 JSON with its version)", async () => {
            const res = await request(healthUrl(b!.directUrl));
            assert.strictEqual(res.status, 200);
            if (version === "0.8.2") assert.strictEqual(res.body, "OK");
            else assert.deepStrictEqual(JSON.parse(res.body), { status: "OK", version: "0.9.1" });
            assert.strictEqual(healthProblem(res.status, Buffer.from(res.body)), undefined);
        });
    });
}
