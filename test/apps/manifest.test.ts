/**
 * Reading Spin apps (manifest v2) into file lists, and Bindle invoices built from them: the keys
 * of deislabs/bindle docs/invoice-spec.md and label-spec.md, a content-derived SemVer version,
 * deterministic TOML, and creator signatures over bindle's cleartext.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "smol-toml";
import {
    ANNOTATIONS, BINDLE_VERSION, bindleId, buildInvoice, generateSigningKey, invoiceCleartext, loadSigningKey, parseInvoice,
    publicKeyOf, renderInvoice, signInvoice,
} from "../../components/bindle/invoice";
import { SPIN_MANIFEST_MEDIA_TYPE, globToRegExp, readSpinApp } from "../../components/apps/manifest";

const FIXTURES = path.join(__dirname, "..", "fixtures", "apps");
const HELLO = path.join(FIXTURES, "hello");
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function copyHello(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spin-app-"));
    fs.cpSync(HELLO, dir, { recursive: true });
    return dir;
}

function throwsWith(fn: () => unknown, ...fragments: string[]): void {
    assert.throws(fn, (e: Error) => {
        for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
        return true;
    });
}

/** A copy of hello with its spin.toml edited. */
function withManifest(edit: (toml: string) => string): string {
    const dir = copyHello();
    const file = path.join(dir, "spin.toml");
    fs.writeFileSync(file, edit(fs.readFileSync(file, "utf8")));
    return dir;
}

describe("Spin app manifest", () => {
    const temps: string[] = [];
    const temp = (dir: string) => (temps.push(dir), dir);
    after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    it("lists the manifest, each component's Wasm and its files, sorted, with hashes, sizes and media types", () => {
        const pkg = readSpinApp(HELLO);
        assert.deepStrictEqual(pkg.entries.map((e) => [e.path, e.role, e.mediaType]), [
            ["assets/icons/logo.svg", "file", "image/svg+xml"],
            ["dist/api.wasm", "component-source", "application/wasm"],
            ["dist/web.wasm", "component-source", "application/wasm"],
            ["spin.toml", "manifest", SPIN_MANIFEST_MEDIA_TYPE],
            ["static/css/site.css", "file", "text/css"],
            ["static/index.html", "file", "text/html"],
        ]);
        for (const e of pkg.entries) {
            const data = fs.readFileSync(path.join(HELLO, ...e.path.split("/")));
            assert.strictEqual(e.absolutePath, path.join(HELLO, ...e.path.split("/")));
            assert.deepStrictEqual([e.sha256, e.size], [crypto.createHash("sha256").update(data).digest("hex"), data.length]);
        }
        assert.deepStrictEqual(pkg.components, [
            { id: "api", source: { kind: "local", path: "dist/api.wasm" }, files: ["static/index.html"], keyValueStores: [], sqliteDatabases: [] },
            { id: "web", source: { kind: "local", path: "dist/web.wasm" }, files: ["assets/icons/logo.svg", "static/css/site.css", "static/index.html"], keyValueStores: [], sqliteDatabases: [] },
        ]);
        assert.deepStrictEqual(pkg.routes, [
            { route: "/...", private: false, component: "web" },
            { route: "/api/...", private: false, component: "api" },
            { private: true, component: "api" },
        ]);
        assert.deepStrictEqual(pkg.variables, [{ name: "greeting", required: false, secret: false, default: "hi" }, { name: "token", required: true, secret: true }]);
        assert.deepStrictEqual([pkg.name, pkg.version, pkg.description, pkg.authors], ["hello", "0.2.0", "Fixture app", ["Fixture <fixture@example.com>"]]);
    });

    it("matches globs like Spin: ** spans directories, * and ? stay within one, [..] classes", () => {
        const cases: [string, string, boolean][] = [
            ["static/**/*", "static/a.html", true], ["static/**/*", "static/css/site.css", true], ["static/**/*", "other/a", false],
            ["static/*", "static/css/site.css", false], ["*.wasm", "dist/a.wasm", false], ["dist/?.wasm", "dist/a.wasm", true],
            ["img/[ab].png", "img/b.png", true], ["img/[!ab].png", "img/b.png", false], ["a.b", "axb", false], ["**", "x/y/z", true],
        ];
        for (const [glob, file, expected] of cases) assert.strictEqual(globToRegExp(glob).test(file), expected, `${glob} vs ${file}`);
    });

    it("names the file when spin.toml is missing, is not TOML or is manifest version 1", () => {
        throwsWith(() => readSpinApp(path.join(FIXTURES, "no-manifest")), path.join(FIXTURES, "no-manifest", "spin.toml"), "no Spin manifest");
        throwsWith(() => readSpinApp(path.join(FIXTURES, "bad-toml")), path.join(FIXTURES, "bad-toml", "spin.toml"), "invalid TOML");
        throwsWith(() => readSpinApp(path.join(FIXTURES, "v1")), path.join(FIXTURES, "v1", "spin.toml"), "spin_manifest_version must be 2", `found "1"`);
        throwsWith(() => readSpinApp(path.join(FIXTURES, "does-not-exist")), "does-not-exist", "does not exist");
    });

    it("names the component and the path of a missing file or Wasm source", () => {
        throwsWith(() => readSpinApp(path.join(FIXTURES, "missing-file")), `component "web" files`, `"static/absent.txt" does not exist`);
        const dir = temp(copyHello());
        fs.rmSync(path.join(dir, "dist", "api.wasm"));
        throwsWith(() => readSpinApp(dir), `component "api"`, `source "dist/api.wasm" does not exist`);
        throwsWith(() => readSpinApp(temp(withManifest((t) => t.replace('files = ["static/index.html"]', 'files = [{ source = "nope", destination = "/x" }]')))), `component "api" files`, `source "nope" does not exist`);
    });

    it("rejects paths that escape the app directory, absolute paths and symlinks leading outside", () => {
        throwsWith(() => readSpinApp(path.join(FIXTURES, "escape")), `"../hello/spin.toml" escapes the app directory`);
        throwsWith(() => readSpinApp(temp(withManifest((t) => t.replace('source = "dist/api.wasm"', 'source = "/etc/passwd"')))), `component "api" source`, "must be relative");
        throwsWith(() => readSpinApp(temp(withManifest((t) => t.replace('"static/**/*"', '"static/../../x/*"')))), "escapes the app directory");
        const dir = temp(copyHello());
        fs.symlinkSync(path.join(FIXTURES, "escape", "web.wasm"), path.join(dir, "static", "linked.txt"));
        throwsWith(() => readSpinApp(dir), `"static/linked.txt" resolves outside the app directory`);
    });

    it("checks mappings, triggers and component sources", () => {
        throwsWith(() => readSpinApp(temp(withManifest((t) => t.replace('destination = "/assets"', 'destination = "assets"')))), `"destination" must be an absolute path`);
        throwsWith(() => readSpinApp(temp(withManifest((t) => t.replace('component = "api"', 'component = "apx"')))), "trigger.http[1]", `component "apx" is not defined`);
        const remote = readSpinApp(temp(withManifest((t) => t.replace('source = "dist/api.wasm"', `source = { url = "https://example.com/a.wasm", digest = "sha256:${"a".repeat(64)}" }`))));
        assert.deepStrictEqual(remote.components[0].source, { kind: "url", url: "https://example.com/a.wasm", digest: `sha256:${"a".repeat(64)}` });
        assert.ok(!remote.entries.some((e) => e.path === "dist/api.wasm"), "a remote source is not a local file of the app");
        throwsWith(() => readSpinApp(temp(withManifest((t) => t.replace('source = "dist/api.wasm"', 'source = { url = "https://x/a.wasm", digest = "md5:1" }')))), `"digest" must be "sha256:<64 hex>"`);
    });
});

describe("Bindle invoice of a Spin app", () => {
    const temps: string[] = [];
    after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    it("uses the spec's keys: bindleVersion, [bindle], [annotations], [[parcel]] with [parcel.label]", () => {
        const invoice = buildInvoice(readSpinApp(HELLO));
        const doc = parse(renderInvoice(invoice)) as any;
        assert.deepStrictEqual(Object.keys(doc), ["bindleVersion", "bindle", "annotations", "parcel"]);
        assert.strictEqual(doc.bindleVersion, BINDLE_VERSION);
        assert.strictEqual(BINDLE_VERSION, "1.0.0");
        assert.deepStrictEqual(Object.keys(doc.bindle), ["name", "version", "description", "authors"]);
        assert.deepStrictEqual({ ...doc.annotations }, { [ANNOTATIONS.manifest]: "spin.toml", [ANNOTATIONS.manifestVersion]: "2", [ANNOTATIONS.app]: "hello" });
        for (const p of doc.parcel) {
            assert.deepStrictEqual(Object.keys(p), ["label"]);
            assert.deepStrictEqual(Object.keys(p.label), ["sha256", "mediaType", "name", "size", "annotations"]);
            assert.strictEqual(typeof p.label.size, "number");
        }
        assert.deepStrictEqual(doc.parcel.map((p: any) => p.label.name), readSpinApp(HELLO).entries.map((e) => e.path));
        assert.strictEqual(doc.parcel.find((p: any) => p.label.name === "spin.toml").label.annotations[ANNOTATIONS.role], "manifest");
    });

    it("renders TOML that parses back to the same invoice", () => {
        const invoice = buildInvoice(readSpinApp(HELLO), { name: "example.com/apps/hello", description: 'quotes "and" \\ backslashes' });
        const toml = renderInvoice(invoice);
        assert.deepStrictEqual(parseInvoice(toml), invoice);
        assert.strictEqual(renderInvoice(parseInvoice(toml)), toml);
        assert.strictEqual(bindleId(invoice), `example.com/apps/hello/${invoice.bindle.version}`);
    });

    it("derives a SemVer version from the content: same app, same invoice, wherever it lives", () => {
        const a = buildInvoice(readSpinApp(HELLO));
        const dir = copyHello();
        temps.push(dir);
        const b = buildInvoice(readSpinApp(dir));
        assert.match(a.bindle.version, /^0\.2\.0-sha-[0-9a-f]{16}$/);
        assert.match(a.bindle.version, SEMVER);
        assert.strictEqual(renderInvoice(b), renderInvoice(a));
        assert.notStrictEqual(buildInvoice(readSpinApp(HELLO), { description: "other" }).bindle.version, a.bindle.version);
    });

    it("gives a new version when any byte of any file changes", () => {
        const before = buildInvoice(readSpinApp(HELLO));
        const dir = copyHello();
        temps.push(dir);
        const css = path.join(dir, "static", "css", "site.css");
        const bytes = fs.readFileSync(css);
        bytes[0] ^= 1;
        fs.writeFileSync(css, bytes);
        const after = buildInvoice(readSpinApp(dir));
        assert.notStrictEqual(after.bindle.version, before.bindle.version);
        const changed = after.parcel!.filter((p, i) => p.label.sha256 !== before.parcel![i].label.sha256).map((p) => p.label.name);
        assert.deepStrictEqual(changed, ["static/css/site.css"]);
    });

    it("rejects bindle names and app versions the specs do not allow", () => {
        const pkg = readSpinApp(HELLO);
        throwsWith(() => buildInvoice(pkg, { name: "bad name" }), `bindle name "bad name" is invalid`);
        throwsWith(() => buildInvoice(pkg, { name: "/leading" }), "is invalid");
        throwsWith(() => buildInvoice({ ...pkg, version: "1.0" }), `application.version "1.0" must be major.minor.patch`);
        throwsWith(() => buildInvoice({ ...pkg, entries: pkg.entries.filter((e) => e.role !== "manifest") }), "exactly one manifest");
        assert.match(buildInvoice({ ...pkg, version: undefined }).bindle.version, /^0\.0\.0-sha-/);
    });

    it("signs as creator over bindle's cleartext with Ed25519 (keypair or PEM); a key signs once", () => {
        const invoice = buildInvoice(readSpinApp(HELLO));
        const key = generateSigningKey();
        const signed = signInvoice(invoice, { by: "Ops <ops@example.com>", privateKey: key.keypair }, "creator", 1700000000);
        const [sig] = signed.signature!;
        assert.deepStrictEqual({ ...sig, signature: "" }, { by: "Ops <ops@example.com>", signature: "", key: key.publicKey, role: "creator", at: 1700000000 });
        const clear = ["Ops <ops@example.com>", "hello", invoice.bindle.version, "creator", "~", ...invoice.parcel!.map((p) => p.label.sha256)].join("\n");
        assert.strictEqual(invoiceCleartext(invoice, "Ops <ops@example.com>", "creator"), clear);
        const pub = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(key.publicKey, "base64").toString("base64url") }, format: "jwk" });
        assert.ok(crypto.verify(null, Buffer.from(clear), pub, Buffer.from(sig.signature, "base64")));
        assert.deepStrictEqual(parseInvoice(renderInvoice(signed)).signature, signed.signature);
        throwsWith(() => signInvoice(signed, { by: "again", privateKey: key.keypair }), "has already signed");

        const pem = crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
        assert.strictEqual(publicKeyOf(loadSigningKey(pem)), signInvoice(invoice, { by: "x", privateKey: pem }).signature![0].key);
        const other = Buffer.from(generateSigningKey().keypair, "base64");
        throwsWith(() => loadSigningKey(Buffer.concat([Buffer.from(key.keypair, "base64").subarray(0, 32), other.subarray(32)]).toString("base64")), "does not match");
        throwsWith(() => loadSigningKey(Buffer.alloc(10).toString("base64")), "64 bytes");
        const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
        throwsWith(() => loadSigningKey(rsa), "must be Ed25519");
    });
});
