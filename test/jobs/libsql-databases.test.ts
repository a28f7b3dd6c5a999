/** The platform libSQL server's names, URLs and tokens (provisioning/jobs/libsql-databases.ts). */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import {
    checkedLibsqlDatabases, libsqlBackupId, LIBSQL_NAMESPACE_PATTERN, libsqlDatabaseUrl, libsqlNamespace, libsqlPublicKeyPem, libsqlToken,
} from "../../provisioning/jobs/libsql-databases";

const SEED = Buffer.alloc(32, 7).toString("base64");
const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

describe("libsql databases", () => {
    it("names each app database <app>-<label> as a DNS label; long names keep 63 characters and stay distinct", () => {
        assert.equal(libsqlNamespace("shop", "orders"), "shop-orders");
        assert.equal(libsqlNamespace("shop", "order_items"), "shop-order-items");
        assert.equal(libsqlNamespace("shop", "ORDERS"), "shop-orders");
        const long = libsqlNamespace("a".repeat(40), "b".repeat(40));
        const other = libsqlNamespace("a".repeat(40), `${"b".repeat(39)}c`);
        assert.equal(long.length, 63);
        assert.notEqual(long, other);
        for (const ns of [long, other, libsqlNamespace("x", "y_z")]) assert.match(ns, LIBSQL_NAMESPACE_PATTERN);
    });

    it("refuses two databases on one namespace (app a-b label c, app a label b-c; a label in two cases), a ref given twice, bad names", () => {
        assert.throws(() => checkedLibsqlDatabases([{ app: "a-b", label: "c" }, { app: "a", label: "b-c" }]),
            /\[1\]: app a label b-c would be libSQL namespace "a-b-c", already the namespace of app a-b label c/);
        assert.throws(() => checkedLibsqlDatabases([{ app: "a", label: "orders" }, { app: "a", label: "ORDERS" }]), /already the namespace of app a label orders/);
        assert.throws(() => checkedLibsqlDatabases([{ app: "a", label: "x" }, { app: "a", label: "x" }]), /\[1\]: app a label x is given twice/);
        assert.throws(() => checkedLibsqlDatabases([{ app: "A", label: "x" }]), /\[0\]\.app is "A"; must be an app name/);
        assert.throws(() => checkedLibsqlDatabases([{ app: "a", label: "b@d" }]), /\[0\]\.label: store label "b@d" is refused by Spin/);
        assert.deepEqual(checkedLibsqlDatabases([{ app: "shop", label: "orders" }, { app: "blog", label: "default" }]).map((d) => d.namespace), ["blog-default", "shop-orders"]);
        // bottomless lists a namespace's backup by the prefix `ns-<id>:<namespace>-`.
        assert.throws(() => checkedLibsqlDatabases([{ app: "shop", label: "orders_archive" }, { app: "shop", label: "orders" }]),
            /app shop label orders_archive would be libSQL namespace "shop-orders-archive", which starts with "shop-orders-", the namespace of app shop label orders; sqld's backup would mix their objects/);
        assert.doesNotThrow(() => checkedLibsqlDatabases([{ app: "shop", label: "orders" }, { app: "shop", label: "ordersarchive" }]));
    });

    it("derives the backup id from the cluster name as [a-z0-9-] (stack names may hold _ . and capitals)", () => {
        assert.equal(libsqlBackupId("spin-cloud-dev"), "spin-cloud-dev");
        assert.equal(libsqlBackupId("spin-cloud-Prod_1.eu"), "spin-cloud-prod-1-eu");
        assert.equal(libsqlBackupId(`spin-cloud-${"x".repeat(80)}`).length, 63);
    });

    it("gives Spin a URL whose host starts with the namespace (sqld reads the namespace from the Host header), through Consul DNS", () => {
        assert.equal(libsqlDatabaseUrl("shop-orders"), "http://shop-orders.libsql.service.consul:8090");
        assert.throws(() => libsqlDatabaseUrl("../x"), /not a DNS label/);
    });

    it("signs each token with the platform key for its own namespace only: EdDSA, id and a=rw, verifiable with the published key", () => {
        const token = libsqlToken("shop-orders", SEED);
        const [header, payload, signature] = token.split(".");
        assert.deepEqual(decode(header), { alg: "EdDSA", typ: "JWT" });
        assert.deepEqual(decode(payload), { id: "shop-orders", a: "rw" });
        const pem = libsqlPublicKeyPem(SEED);
        assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
        assert.ok(crypto.verify(null, Buffer.from(`${header}.${payload}`), crypto.createPublicKey(pem), Buffer.from(signature, "base64url")));
        const otherKey = libsqlPublicKeyPem(Buffer.alloc(32, 8).toString("base64"));
        assert.ok(!crypto.verify(null, Buffer.from(`${header}.${payload}`), crypto.createPublicKey(otherKey), Buffer.from(signature, "base64url")));
        assert.equal(libsqlToken("shop-orders", SEED), token, "deterministic: no diff in preview");
        assert.notEqual(libsqlToken("blog-posts", SEED), token);
        assert.throws(() => libsqlToken("", SEED), /not a DNS label/);
        assert.throws(() => libsqlToken("a", "c2hvcnQ="), /libsql signing key: the seed must be 32 bytes/);
    });
});
