/**
 * Where the local target keeps apps' key-value stores and SQLite databases: files under
 * `<stateDir>/app-data/<app>/`, outside every allocation (Nomad's alloc dirs live under
 * `<stateDir>/nomad/data`), so they survive redeploys, reschedules and agent restarts; the cloud's
 * `app-data` step creates the directory and its delete (`pulumi destroy`) removes it. Spin creates
 * a store file's parent directory itself (spinframework/spin v3.4.0 crates/key-value-spin/src/lib.rs
 * `make_store`, crates/sqlite-inproc/src/lib.rs `InProcDatabaseLocation::from_path`). Pure.
 */
import { isSafeAbsolutePath } from "../loopback";
import { shellQuote } from "../shell-quote";
import { SpinAppStores } from "../jobs/spin-runtime-config";

export const appDataRoot = (stateDir: string): string => `${stateDir.replace(/\/+$/, "")}/app-data`;

/** `<root>/<app>/key-value/<label>.db` and `<root>/<app>/sqlite/<label>.db`: a label may name one of each. */
export function localStorePaths(root: string, app: string, labels: { keyValue: readonly string[]; sqlite: readonly string[] }): SpinAppStores {
    if (!isSafeAbsolutePath(root)) throw new Error(`local app data directory is ${JSON.stringify(root)}; it must be an absolute path of [A-Za-z0-9._+/-]`);
    if (!/^[a-z]([a-z0-9-]*[a-z0-9])?$/.test(app)) throw new Error(`local app data: app name ${JSON.stringify(app)} must be a DNS label`);
    // Labels differing only in case would share a file on a case-insensitive file system (macOS default).
    for (const [kind, list] of Object.entries(labels)) {
        const seen = new Map<string, string>();
        for (const l of list) {
            const twin = seen.get(l.toLowerCase());
            if (twin !== undefined) throw new Error(`SpinApp ${app}: stores.${kind} labels "${twin}" and "${l}" differ only in case; the local target keeps each in a file, and a case-insensitive file system would merge them`);
            seen.set(l.toLowerCase(), l);
        }
    }
    const at = (dir: string, label: string) => ({ type: "spin" as const, path: `${root}/${app}/${dir}/${label}.db` });
    return {
        keyValue: Object.fromEntries(labels.keyValue.map((l) => [l, at("key-value", l)])),
        sqlite: Object.fromEntries(labels.sqlite.map((l) => [l, at("sqlite", l)])),
    };
}

/** The `app-data` step: create makes the root (mode 0700: the stores are the user's data), delete removes it. */
export function appDataCommands(stateDir: string): { create: string; delete: string } {
    const root = appDataRoot(stateDir);
    if (!isSafeAbsolutePath(root)) throw new Error(`local state directory is ${JSON.stringify(stateDir)}; it must be an absolute path of [A-Za-z0-9._+/-]`);
    const q = shellQuote(root);
    return { create: `mkdir -p ${q} && chmod 0700 ${q}`, delete: `rm -rf ${q}` };
}
