/**
 * Where the local target keeps apps' key-value stores and SQLite databases: files under
 * `<stateDir>/app-data/<app>/`, outside every allocation (Nomad's alloc dirs live under
 * `<stateDir>/nomad/data`), so they survive redeploys, reschedules and agent restarts; the cloud's
 * `app-data` step creates the directory and its delete (`pulumi destroy`) removes it. Each store
 * also has a step of its own whose delete removes that store's files; the component registers it
 * with Pulumi's `retainOnDelete` unless the store opts in (`retainOnDelete: false`), so by default
 * removing a store or an app keeps its data (preview: `delete [retain]`). Spin creates
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

/**
 * Files SQLite keeps next to a database: its rollback journal, and the WAL and shared-memory
 * files of a database an app switched to `PRAGMA journal_mode=WAL` (sqlite.org/tempfiles.html).
 * Spin opens the store with rusqlite's defaults (spinframework/spin v3.4.0
 * crates/key-value-spin/src/store.rs, crates/sqlite-inproc/src/lib.rs: `Connection::open`).
 */
export const SQLITE_SIDE_FILES = ["-journal", "-wal", "-shm"] as const;

/**
 * One store's step: create makes the store's directory, delete removes the store's file and its
 * SQLite side files, then the kind's and the app's directories if that left them empty. Only
 * runs on delete when the component lets it (the store's `retainOnDelete: false`).
 */
export function storeDataCommands(root: string, storePath: string): { create: string; delete: string } {
    const prefix = `${root.replace(/\/+$/, "")}/`;
    const rel = storePath.startsWith(prefix) ? storePath.slice(prefix.length).split("/") : [];
    // <root>/<app>/<kind>/<label>.db, from localStorePaths: nothing else is ever deleted.
    if (!isSafeAbsolutePath(storePath) || rel.length !== 3 || rel.some((s) => s === "" || s === "." || s === "..") || !rel[2].endsWith(".db")) {
        throw new Error(`local app data: store path ${JSON.stringify(storePath)} must be <root>/<app>/<kind>/<label>.db under ${JSON.stringify(root)}`);
    }
    const kindDir = `${prefix}${rel[0]}/${rel[1]}`;
    const appDir = `${prefix}${rel[0]}`;
    const files = [storePath, ...SQLITE_SIDE_FILES.map((s) => `${storePath}${s}`)].map(shellQuote).join(" ");
    return {
        create: `mkdir -p ${shellQuote(kindDir)}`,
        // rmdir fails on a directory that still holds another store: that is the point, and not an error.
        delete: `rm -f -- ${files} && { rmdir -- ${shellQuote(kindDir)} 2>/dev/null || true; } && { rmdir -- ${shellQuote(appDir)} 2>/dev/null || true; }`,
    };
}
