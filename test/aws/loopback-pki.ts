/**
 * Test certificates made here by openssl: a CA, a certificate for 127.0.0.1 (and Nomad's
 * `server.global.nomad`, usable for both server and client auth, as a Nomad server's RPC needs)
 * signed by it, a second, unrelated CA, and a self-signed certificate for 127.0.0.1. For HTTPS
 * stand-ins and a real Nomad on loopback.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface LoopbackPki {
    dir: string;
    caFile: string;
    certFile: string;
    keyFile: string;
    caPem: string;
    otherCaPem: string;
    cert: string;
    key: string;
    /** Self-signed for IP 127.0.0.1: a server no CA vouches for. */
    selfSignedCert: string;
    selfSignedKey: string;
    remove(): void;
}

export function makeLoopbackPki(prefix: string): LoopbackPki {
    try {
        execFileSync("openssl", ["version"], { stdio: "ignore" });
    } catch {
        throw new Error("these tests need openssl (Debian package openssl) to make test certificates");
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    const file = (name: string) => path.join(dir, name);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    for (const ca of ["ca", "other-ca"]) {
        openssl("req", "-x509", ...key, "-keyout", file(`${ca}.key`), "-out", file(`${ca}.pem`), "-days", "2", "-subj", `/CN=test ${ca}`,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }
    fs.writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:server.global.nomad,DNS:localhost\n" +
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
    openssl("req", ...key, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1");
    openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-set_serial", "2",
        "-days", "2", "-extfile", file("server.ext"), "-out", file("server.pem"));
    openssl("req", "-x509", ...key, "-keyout", file("self.key"), "-out", file("self.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1");
    const read = (name: string) => fs.readFileSync(file(name), "utf8");
    return {
        dir, caFile: file("ca.pem"), certFile: file("server.pem"), keyFile: file("server.key"),
        caPem: read("ca.pem"), otherCaPem: read("other-ca.pem"), cert: read("server.pem"), key: read("server.key"),
        selfSignedCert: read("self.pem"), selfSignedKey: read("self.key"),
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}
