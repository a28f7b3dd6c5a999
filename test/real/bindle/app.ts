/** The app the real Bindle tests push: a copy of the hello fixture, edited per case. */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { BindlePushInputs, pushContent } from "../../../components/apps/bindle-push";
import { readSpinApp } from "../../../components/apps/manifest";
import { buildInvoice } from "../../../components/bindle/invoice";
import { HELLO } from "../../harness/fake-bindle";
import { RealBindle } from "../harness/bindle-server";

export const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** A copy of the hello app in `dir`, its component replaced by `wasmBytes` of fixed pseudo-random data. */
export function appCopy(dir: string, wasmBytes = 64 * 1024): string {
    fs.cpSync(HELLO, dir, { recursive: true });
    const data = Buffer.alloc(wasmBytes);
    for (let i = 0; i < wasmBytes; i += 32) crypto.createHash("sha256").update(String(i)).digest().copy(data, i);
    fs.writeFileSync(path.join(dir, "dist", "web.wasm"), data);
    return dir;
}

export const editPage = (dir: string, text: string) => fs.writeFileSync(path.join(dir, "static", "index.html"), text);

/**
 * BindlePush inputs as SpinApp builds them (components/apps/spin-app.ts), signed with the creator
 * key; the server is up already, so the readiness wait is short (readiness.test.ts waits for real).
 */
export function inputsFor(b: Pick<RealBindle, "username" | "password" | "creator"> & { url?: string; directUrl: string }, dir: string, extra: Partial<BindlePushInputs> = {}): BindlePushInputs {
    const pkg = readSpinApp(dir);
    return {
        serverUrl: b.url ?? b.directUrl, username: b.username, password: b.password, readiness: { consecutive: 2, intervalMs: 50 },
        signingKey: b.creator.keypair, signerName: "spin-cloud pulumi",
        ...pushContent(pkg, buildInvoice(pkg, { name: `spin-cloud/real/${path.basename(dir)}` })), ...extra,
    };
}
