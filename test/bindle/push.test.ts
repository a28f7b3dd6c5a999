/** pushBindle's confirm loop and retainRevisions (components/bindle/push.ts). */
import * as assert from "assert";
import { bindleClient } from "../../components/bindle/client";
import { checkedKeep, pushBindle, retainRevisions } from "../../components/bindle/push";
import { FakeBindle, fast, helloInvoice, rejects } from "../harness/fake-bindle";

describe("pushBindle: an upload counts only what GET /_r/missing confirms", () => {
    let server: FakeBindle;
    beforeEach(async () => { server = await new FakeBindle().start(); });
    afterEach(() => server.stop());

    const push = (rounds = 2) => {
        const { toml, invoice, files } = helloInvoice();
        const id = `${invoice.bindle.name}/${invoice.bindle.version}`;
        return pushBindle(bindleClient(fast(server)), server.url, id, toml, (sha) => files.get(sha)!, (sha) => `file-${sha.slice(0, 6)}`, { rounds, confirmBackoffMs: 1 });
    };

    it("fails, naming the parcel and the empty directory, when an interrupted upload left parcels/<sha>/ behind", async () => {
        const { files } = helloInvoice();
        const [broken] = [...files.keys()];
        server.emptyDirs.add(broken);
        // POST /_i counts the directory as present (201/202 without it): only the confirm sees the gap.
        await rejects(push(), 409, `file-${broken.slice(0, 6)} (sha256 ${broken}`, "empty directory parcels/<sha256>/",
            "`nomad job restart -all-tasks -yes bindle`", `bindle-repair task removes`, `(here parcels/${broken}/)`, "run pulumi up again");
        assert.ok(server.count("GET", "/v1/_r/missing/") >= 2, "confirmed every round");
        server.emptyDirs.delete(broken); // the operator removed the directory
        assert.strictEqual((await push()).status, "exists");
        assert.ok(server.parcels.has(broken));
    });

    it("uploads again what the server still lacks after a 409 of a write in progress", async () => {
        const { files } = helloInvoice();
        const [busy] = [...files.keys()];
        server.inProgress.set(busy, 1);
        await push();
        assert.deepStrictEqual([...server.parcels.keys()].sort(), [...files.keys()].sort());
    });
});

describe("retainRevisions / checkedKeep", () => {
    it("keeps the newest N, current first, each once, the pin always", () => {
        assert.deepStrictEqual(retainRevisions("d", ["c", "b", "a"], 2), { retained: ["d", "c"], expired: ["b", "a"] });
        assert.deepStrictEqual(retainRevisions("b", ["c", "b", "a"], 2), { retained: ["b", "c"], expired: ["a"] });
        assert.deepStrictEqual(retainRevisions("d", ["c", "b", "a"], 2, "a"), { retained: ["d", "c", "a"], expired: ["b"] });
    });
    it("keep is an integer from 1 to 50, default 5", () => {
        assert.strictEqual(checkedKeep(undefined), 5);
        for (const bad of [0, 51, 1.5, "3"]) assert.throws(() => checkedKeep(bad), /keepRevisions = .* an integer from 1 to 50/);
    });
});

describe("htpasswdLine", () => {
    it("turns $2a$/$2b$ bcrypt into the $2y$ bindle-server accepts; refuses anything else", () => {
        const { htpasswdLine } = require("../../components/bindle/keys");
        const tail = `05$${"a".repeat(53)}`;
        for (const p of ["2a", "2b", "2y"]) assert.strictEqual(htpasswdLine("spin-cloud", `$${p}$${tail}`), `spin-cloud:$2y$${tail}\n`);
        assert.throws(() => htpasswdLine("spin-cloud", "plain"), /must be bcrypt/);
        assert.throws(() => htpasswdLine("a:b", `$2a$${tail}`), /user/);
    });
});
