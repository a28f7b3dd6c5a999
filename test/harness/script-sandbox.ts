/**
 * Sandboxes for running install.sh and bootstrap.sh against stub commands. Each sandbox has its
 * own root directory: the env file is the node's, with every on-node path moved below the root,
 * and `bin/` holds stubs for the commands that would touch the real machine (`aws`, `systemctl`,
 * `apt-get`, `mount`, …). The stubs log their arguments to files in `state/` and keep the state of
 * the fake services there.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { CONSUL_ACL_POLICIES } from "../../provisioning/agents/consul-acl-policies";
import { nodeEnvEntries } from "../../provisioning/aws/node-env";
import { shellQuote } from "../../provisioning/shell-quote";
import { SECRET_PARAMETERS, secretParameterName } from "../../provisioning/agents/secrets";
import { NodeProvisioning } from "../../provisioning/types";
import { HASHICORP_APT, SPIN } from "../../provisioning/versions";
import { runWithStubs, writeStubs } from "./validators";

export const SCRIPTS = path.join(__dirname, "..", "..", "provisioning", "aws", "scripts");
export const INSTALL = path.join(SCRIPTS, "install.sh");
export const BOOTSTRAP = path.join(SCRIPTS, "bootstrap.sh");

/** What a stub wrote to `state/<name>`, "" when it wrote nothing. */
export const stateLog = (box: { readonly state: string }, name: string) =>
    existsSync(path.join(box.state, name)) ? readFileSync(path.join(box.state, name), "utf8") : "";

export const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));

/** Permission bits of `file` in octal, e.g. "640". */
export const fileMode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** Writes `env` as the sandbox's env file, `KEY='value'` lines like the real one. */
function writeEnvFile(root: string, env: ReadonlyMap<string, string>): void {
    writeFileSync(path.join(root, "node.env"), [...env].map(([k, v]) => `${k}=${shellQuote(v)}`).join("\n") + "\n");
}

// ---------------------------------------------------------------------------------------------
// bootstrap.sh

/**
 * Stub commands of bootstrap.sh. `calls.log` records systemctl and mount calls in order. `mount`
 * behaves like `mount <mount point>` with an fstab: it fails unless $STUB_FSTAB has an entry for
 * the mount point, and fails the first $STUB_STATE/mount-failures times (a mount target not up yet).
 */
export const BOOTSTRAP_STUBS: Readonly<Record<string, string>> = {
    id: `echo 0`,
    chown: `printf '%s\\n' "$*" >>"$STUB_STATE/chown.log"`,
    install: `printf '%s\\n' "$*" >>"$STUB_STATE/install.log"; for a; do d=$a; done; mkdir -p "$d"`,
    systemctl: `printf '%s\\n' "$*" >>"$STUB_STATE/systemctl.log"; printf 'systemctl %s\\n' "$*" >>"$STUB_STATE/calls.log"`,
    sleep: `printf '%s\\n' "$*" >>"$STUB_STATE/sleep.log"`,
    curl: `case "$*" in *"%{http_code}"*) printf 200 ;; *status/leader*) printf '"10.0.0.1:8300"' ;; *) exit 7 ;; esac`,
    aws: `while [ $# -gt 0 ]; do [ "$1" = --path ] && p=$2; shift; done
          cat "$STUB_STATE/ssm/$(printf '%s' "$p" | tr / _).json"`,
    "mount.nfs4": `exit 0`,
    mountpoint: `[ "$1" = -q ] && [ -f "$STUB_STATE/mounted" ]`,
    mount: `printf '%s\\n' "$*" >>"$STUB_STATE/mount.log"; printf 'mount %s\\n' "$*" >>"$STUB_STATE/calls.log"
          awk -v mp="$1" '$1 !~ /^#/ && $2 == mp { found = 1 } END { exit !found }' "$STUB_FSTAB" ||
            { echo "mount: $1: can't find in /etc/fstab." >&2; exit 1; }
          n=$(cat "$STUB_STATE/mount-failures" 2>/dev/null || echo 0)
          if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$STUB_STATE/mount-failures"; echo "mount.nfs4: Connection timed out" >&2; exit 32; fi
          touch "$STUB_STATE/mounted"`,
    consul: `printf '%s|%s\\n' "$*" "\${CONSUL_HTTP_TOKEN:-}" >>"$STUB_STATE/consul.log"
          cmd="$1 $2 $3"
          for a; do case "$a" in -secret=*) secret=\${a#-secret=} ;; esac; done
          while [ $# -gt 0 ]; do [ "$1" = -name ] && name=$2; [ "$1" = -rules ] && rules=$2; shift; done
          case "$cmd" in
            "acl policy read") [ -f "$STUB_STATE/policy-$name" ] ;;
            "acl policy create") cp "\${rules#@}" "$STUB_STATE/policy-$name" ;;
            "acl token read") grep -qxF -- "$CONSUL_HTTP_TOKEN" "$STUB_STATE/tokens" 2>/dev/null ;;
            "acl token create") printf '%s\\n' "$secret" >>"$STUB_STATE/tokens" ;;
            *) exit 3 ;;
          esac`,
    nomad: `printf '%s\\n' "$*" >>"$STUB_STATE/nomad.log"
          [ "$1 $2 $3" = "acl bootstrap -" ] || exit 3
          token=$(cat); printf '%s\\n' "$token" >>"$STUB_STATE/nomad-bootstrap-input"
          if [ -f "$STUB_STATE/nomad-bootstrapped" ]; then
            echo 'Error bootstrapping: Unexpected response code: 400 (ACL bootstrap already done (reset index: 7))' >&2; exit 1
          fi
          touch "$STUB_STATE/nomad-bootstrapped"; echo "Secret ID = $token"`,
};

/** Fake secrets, one per parameter of the node's role; multi-line and quote-laden on purpose. */
export function fakeSecrets(node: NodeProvisioning): Map<string, string> {
    const secrets = new Map<string, string>();
    for (const p of SECRET_PARAMETERS.filter((s) => s.scope === "common" || s.scope === node.role)) {
        const value = p.name.endsWith("-cert") || p.name === "tls-key"
            ? `-----BEGIN ${p.name}-----\nsecret-${p.name}-"quoted"-'single'\n-----END ${p.name}-----\n`
            : `00000000-secret-${p.name}-$(x)`;
        secrets.set(p.name, value);
    }
    return secrets;
}

/** The EFS DNS name the sandbox's SSM holds for a client with a shared volume. */
export const FAKE_EFS_ADDRESS = "fs-0123456789abcdef0.efs.eu-west-1.amazonaws.com";

/** An fstab like a fresh Ubuntu EC2 image's: the root file system and the EFI partition. */
export const FAKE_FSTAB = "LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,commit=30,errors=remount-ro\t0 1\nLABEL=UEFI\t/boot/efi\tvfat\tumask=0077\t0 1\n";

export interface Sandbox {
    readonly root: string;
    readonly state: string;
    /** The env file as written: every on-node path below `root`. */
    readonly env: Map<string, string>;
    readonly secrets: Map<string, string>;
}

export interface SandboxOptions {
    /** Non-secret parameters under the node's role path, by name; `undefined` leaves one out. */
    readonly parameters?: Readonly<Record<string, string | undefined>>;
    /** Env file values to replace (after the paths are moved below the root). */
    readonly env?: Readonly<Record<string, string>>;
}

/** Non-secret parameters a node finds in SSM: the EFS address on clients with a shared volume. */
function defaultParameters(node: NodeProvisioning): Record<string, string> {
    return node.role === "client" && node.sharedVolume ? { [node.sharedVolume.addressParameter]: FAKE_EFS_ADDRESS } : {};
}

/** A sandbox whose env file points every on-node path (/etc, /opt, /srv) below `root`. */
export function sandbox(node: NodeProvisioning, options: SandboxOptions = {}): Sandbox {
    const root = mkdtempSync(path.join(tmpdir(), "spin-cloud-boot-"));
    const state = path.join(root, "state");
    mkdirSync(path.join(state, "ssm"), { recursive: true });
    writeStubs(path.join(root, "bin"), BOOTSTRAP_STUBS);
    const env = new Map(nodeEnvEntries(node).map(([k, v]) => [k, /^\/(etc|opt|srv)\//.test(v) ? root + v : v]));
    for (const [k, v] of Object.entries(options.env ?? {})) env.set(k, v);
    writeEnvFile(root, env);
    const secrets = fakeSecrets(node);
    const parameters = { ...defaultParameters(node), ...options.parameters };
    for (const scope of ["common", node.role] as const) {
        const params = SECRET_PARAMETERS.filter((p) => p.scope === scope).map((p) => ({
            Name: secretParameterName(node.cluster.ssmPrefix, scope, p.name),
            Value: secrets.get(p.name),
        }));
        if (scope === node.role) {
            for (const [name, value] of Object.entries(parameters)) {
                if (value !== undefined) params.push({ Name: `${node.cluster.ssmPrefix}/${scope}/${name}`, Value: value });
            }
        }
        const file = `${node.cluster.ssmPrefix}/${scope}`.replace(/\//g, "_");
        writeFileSync(path.join(state, "ssm", `${file}.json`), JSON.stringify({ Parameters: params }));
    }
    for (const dir of [env.get("CONSUL_CONFIG_DIR")!, env.get("NOMAD_CONFIG_DIR")!, env.get("CONSUL_POLICY_DIR")!]) {
        mkdirSync(dir, { recursive: true });
    }
    for (const policy of CONSUL_ACL_POLICIES) {
        writeFileSync(path.join(env.get("CONSUL_POLICY_DIR")!, `${policy.name}.json`), `{"policy":"${policy.name}"}\n`);
    }
    if (env.has("FSTAB_FILE")) {
        writeFileSync(env.get("FSTAB_FILE")!, FAKE_FSTAB, { mode: 0o644 });
    }
    return { root, state, env, secrets };
}

/** Runs bootstrap.sh in the sandbox. */
export function bootstrap(box: Sandbox) {
    return runWithStubs(BOOTSTRAP, [path.join(box.root, "node.env")], path.join(box.root, "bin"), {
        STUB_STATE: box.state,
        STUB_FSTAB: box.env.get("FSTAB_FILE") ?? "/nonexistent",
    });
}

/** Runs bootstrap.sh, which must succeed without printing any secret. */
export function runBootstrap(box: Sandbox) {
    const out = bootstrap(box);
    assert.strictEqual(out.status, 0, `bootstrap.sh failed:\n${out.stderr}`);
    for (const value of box.secrets.values()) {
        assert.ok(!out.stdout.includes(value) && !out.stderr.includes(value), "a secret reached the script's output");
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// install.sh

export const INSTALL_STUBS: Readonly<Record<string, string>> = {
    // `id` alone: root; `id -u|-g <user>`: from the sandbox's passwd (useradd below writes it).
    id: `[ $# -lt 2 ] && { echo 0; exit 0; }
          line=$(grep "^$2:" "$STUB_STATE/passwd" 2>/dev/null) || { echo "id: '$2': no such user" >&2; exit 1; }
          case "$1" in -u) echo "$line" | cut -d: -f3 ;; -g) echo "$line" | cut -d: -f4 ;; esac`,
    getent: `grep "^$2:" "$STUB_STATE/$1" 2>/dev/null`,
    groupadd: `printf '%s\n' "$*" >>"$STUB_STATE/groupadd.log"
          while [ $# -gt 1 ]; do [ "$1" = --gid ] && gid=$2; shift; done
          printf '%s:x:%s:\n' "$1" "$gid" >>"$STUB_STATE/group"`,
    useradd: `printf '%s\n' "$*" >>"$STUB_STATE/useradd.log"
          while [ $# -gt 1 ]; do case "$1" in --uid) uid=$2 ;; --gid) gid=$2 ;; esac; shift; done
          printf '%s:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$1" "$uid" "$gid" >>"$STUB_STATE/passwd"`,
    dpkg: `echo "$STUB_ARCH"`,
    lsb_release: `echo noble`,
    "apt-get": `printf '%s\\n' "$*" >>"$STUB_STATE/apt-get.log"`,
    "apt-mark": `printf '%s\\n' "$*" >>"$STUB_STATE/apt-mark.log"`,
    systemctl: `printf '%s\\n' "$*" >>"$STUB_STATE/systemctl.log"; [ "$1" != is-active ]`,
    snap: `printf '%s\\n' "$*" >>"$STUB_STATE/snap.log"
          case "$1" in list) [ -f "$STUB_STATE/snap-installed" ] ;; install) touch "$STUB_STATE/snap-installed" ;; esac`,
    aws: `echo aws-cli/2.0.0`,
    consul: `echo "Consul v0"`,
    nomad: `echo "Nomad v0"`,
    curl: `for a; do url=$a; done; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
          printf '%s\\n' "$url" >>"$STUB_STATE/curl.log"
          case "$url" in *.tar.gz) cp "$STUB_STATE/spin.tar.gz" "$out" ;; *) echo KEY >"$out" ;; esac`,
    gpg: `case "$*" in
            *--show-keys*) printf 'pub:-:255:22:X:1::::::scESC::::::::0:\\nfpr:::::::::%s:\\n' "$STUB_KEY_FINGERPRINT" ;;
            *--dearmor*) while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; echo DEARMORED >"$out" ;;
          esac`,
    install: `args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift ;; *) args+=("$1") ;; esac; shift; done
          /usr/bin/install "\${args[@]}"`,
};

export interface InstallBox {
    readonly root: string;
    readonly state: string;
    readonly env: Map<string, string>;
}

export function installBox(node: NodeProvisioning, overrides: Record<string, string> = {}): InstallBox {
    const root = mkdtempSync(path.join(tmpdir(), "spin-cloud-install-"));
    const state = path.join(root, "state");
    mkdirSync(state);
    writeStubs(path.join(root, "bin"), INSTALL_STUBS);
    // A fake Spin release: the tarball holds a `spin` that reports the pinned version.
    const release = path.join(root, "release");
    mkdirSync(release);
    writeFileSync(path.join(release, "spin"), `#!/bin/sh\necho "spin ${SPIN.version} (0000000 2025-01-01)"\n`, { mode: 0o755 });
    assert.strictEqual(spawnSync("tar", ["-czf", path.join(state, "spin.tar.gz"), "-C", release, "spin"]).status, 0);
    const sha = createHash("sha256").update(readFileSync(path.join(state, "spin.tar.gz"))).digest("hex");
    const env = new Map(nodeEnvEntries(node).map(([k, v]) => [k, /^\/(etc|opt|usr)\//.test(v) ? root + v : v]));
    if (env.has("SPIN_SHA256")) env.set("SPIN_SHA256", sha);
    for (const [k, v] of Object.entries(overrides)) env.set(k, v);
    for (const v of [env.get("HASHICORP_APT_KEYRING")!, env.get("HASHICORP_APT_SOURCES_LIST")!, env.get("SPIN_BINARY") ?? `${root}/x/y`]) {
        mkdirSync(path.dirname(v), { recursive: true });
    }
    writeEnvFile(root, env);
    return { root, state, env };
}

export function runInstall(box: InstallBox, stubEnv: Record<string, string> = {}) {
    return runWithStubs(INSTALL, [path.join(box.root, "node.env")], path.join(box.root, "bin"), {
        STUB_STATE: box.state,
        STUB_ARCH: box.env.get("DEB_ARCH")!,
        STUB_KEY_FINGERPRINT: HASHICORP_APT.keyFingerprint,
        ...stubEnv,
    });
}
