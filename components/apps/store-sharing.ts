/**
 * Sharing a store between apps. A label is private to its app: two apps that declare `cache` get
 * two stores. An app uses another app's store only when both say so: the owner lists it in the
 * store's `shareWith`, and the sharer's `stores.keyValue.<label> = { sharedFrom: "<owner>" }` (or
 * `stores.sqlite.<label>`) makes its `<label>` the owner's store of the same kind and label, with
 * the owner's backend and options. Both manifests declare the label, and it must be the same
 * label: the backends key data by it (spinframework/spin v3.4.0 crates/key-value-spin/src/store.rs
 * keeps rows under `(store, key)`, the store being the label); the owner owns it (no chains); an app never shares from itself, and two apps never
 * share from each other, so the owners can always be declared first. Checked over the declared
 * apps before anything registers (`checkStoreSharing`), and per cloud as each SpinApp is
 * constructed (`ownerStoresOn`). Pure, apart from the per-cloud record of constructed apps' stores.
 */
import { SPIN_APP_NAME_PATTERN } from "../../provisioning/jobs/spin-app-job-input";
import type { AppStoresArgs, CheckedAppStores } from "./stores";

export type StoreKind = "keyValue" | "sqlite";
export const STORE_KINDS: readonly StoreKind[] = ["keyValue", "sqlite"];
/** The spin.toml key that declares each kind's labels. */
export const MANIFEST_KEY: Record<StoreKind, string> = { keyValue: "key_value_stores", sqlite: "sqlite_databases" };

/** What sharing needs of an app: its name, the labels its manifest declares, its `stores` options. */
export interface SharingApp {
    readonly name: string;
    readonly declared: { readonly keyValue: readonly string[]; readonly sqlite: readonly string[] };
    readonly stores?: AppStoresArgs;
}

/** An entry of `stores` that names an owner (`sharedFrom` given, whatever its value). */
export const isShared = (options: unknown): boolean => typeof options === "object" && options !== null && Object.prototype.hasOwnProperty.call(options, "sharedFrom");
export const sharedFromOf = (options: unknown): unknown => (isShared(options) ? (options as { sharedFrom: unknown }).sharedFrom : undefined);
const shareWithOf = (options: unknown): readonly unknown[] => {
    const list = typeof options === "object" && options !== null ? (options as { shareWith?: unknown }).shareWith : undefined;
    return Array.isArray(list) ? list : [];
};

/** An owner's `shareWith` checked: app names, each once, not the owner itself. */
export function checkedShareWith(app: string, field: string, list: unknown): readonly string[] {
    const fail = (value: unknown, allowed: string): never => { throw new Error(`SpinApp ${app}: ${field}.shareWith is ${JSON.stringify(value)}; ${allowed}`); };
    if (!Array.isArray(list)) fail(list, "must be a list of app names");
    (list as unknown[]).forEach((name, i) => {
        if (typeof name !== "string" || !SPIN_APP_NAME_PATTERN.test(name)) fail(list, `entry ${i} must be an app name (a DNS label)`);
        if (name === app) fail(list, "an app does not share a store with itself");
        if ((list as unknown[]).indexOf(name) !== i) fail(list, `names ${JSON.stringify(name)} twice`);
    });
    return list as string[];
}

/**
 * Why `sharer` cannot share `kind` `label` from the owner its option names (undefined when it
 * can): `ownerApp` is the app of that name, undefined when none is declared (`where` says where).
 */
export function sharingError(sharer: SharingApp, kind: StoreKind, label: string, ownerApp: SharingApp | undefined, where: string): string | undefined {
    const app = sharer.name;
    const owner = sharedFromOf(sharer.stores?.[kind]?.[label]);
    const field = `SpinApp ${app}: stores.${kind}.${label}.sharedFrom is ${JSON.stringify(owner)}`;
    if (typeof owner !== "string" || owner === "") return `${field}; must be the name of the app whose store this is`;
    if (owner === app) return `${field}; an app does not share from itself: remove sharedFrom (the store is the app's own)`;
    if (!sharer.declared[kind].includes(label)) return `${field}; app ${app}'s manifest declares no ${MANIFEST_KEY[kind]} label ${JSON.stringify(label)}, so it would never use the store: add it to spin.toml or remove the entry`;
    if (ownerApp === undefined) return `${field}; no app named ${JSON.stringify(owner)} is declared ${where}`;
    if (!ownerApp.declared[kind].includes(label)) {
        return `${field}; app ${owner}'s manifest declares no ${MANIFEST_KEY[kind]} label ${JSON.stringify(label)} (its labels: ${ownerApp.declared[kind].join(", ") || "none"}), so it has no such store to share`;
    }
    const given = ownerApp.stores?.[kind]?.[label];
    if (isShared(given)) {
        return `${field}; app ${owner} does not own that store either (it shares it from ${JSON.stringify(sharedFromOf(given))}): share from ${JSON.stringify(sharedFromOf(given))}, the owner`;
    }
    if (!shareWithOf(given).includes(app)) {
        return `${field}; app ${owner} does not share it with ${app}: add ${JSON.stringify(app)} to ${owner}'s stores.${kind}.${label}.shareWith (both apps say so)`;
    }
    return undefined;
}

/** The owners `app` shares from, sorted. */
const ownersOf = (app: SharingApp): string[] => [...new Set(STORE_KINDS.flatMap((kind) =>
    Object.values(app.stores?.[kind] ?? {}).map(sharedFromOf).filter((o): o is string => typeof o === "string")))].sort();

/**
 * Every `sharedFrom` and `shareWith` of the declared apps checked against the others, before
 * anything registers. Returns the apps' names in an order that declares each owner before the apps
 * that share from it (otherwise the declared order); refuses two apps that share from each other.
 */
export function checkStoreSharing(apps: readonly SharingApp[]): string[] {
    const byName = new Map(apps.map((a) => [a.name, a]));
    const entries = apps.flatMap((app) => STORE_KINDS.flatMap((kind) => Object.entries(app.stores?.[kind] ?? {}).map(([label, options]) => ({ app, kind, label, options }))));
    // The sharers' side first: its errors say what the sharer must fix.
    for (const { app, kind, label, options } of entries.filter((e) => isShared(e.options))) {
        const owner = sharedFromOf(options);
        const error = sharingError(app, kind, label, typeof owner === "string" ? byName.get(owner) : undefined, "in the program (its apps and the example app)");
        if (error !== undefined) throw new Error(error);
    }
    for (const { app, kind, label, options } of entries) {
        for (const name of shareWithOf(options)) {
            if (typeof name === "string" && sharedFromOf(byName.get(name)?.stores?.[kind]?.[label]) !== app.name) {
                throw new Error(`SpinApp ${app.name}: stores.${kind}.${label}.shareWith names ${JSON.stringify(name)}, `
                    + `${byName.has(name) ? `whose stores.${kind}.${label} does not say sharedFrom: ${JSON.stringify(app.name)}` : "an app the program does not declare"}; list only the apps that share the store`);
            }
        }
    }
    const order: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (name: string, path: readonly string[]) => {
        if (state.get(name) === "done") return;
        if (state.get(name) === "visiting") {
            const cycle = [...path.slice(path.indexOf(name)), name];
            throw new Error(`SpinApp ${name}: stores are shared in a circle (${cycle.join(" shares from ")}); one app must own the stores the others share (move the sharedFrom so they all point at it)`);
        }
        state.set(name, "visiting");
        for (const owner of ownersOf(byName.get(name)!)) visit(owner, [...path, name]);
        state.set(name, "done");
        order.push(name);
    };
    for (const app of apps) visit(app.name, []);
    return order;
}

/** The constructed apps' checked stores, per cloud (its store provider): what a later app shares. */
const constructed = new WeakMap<object, Map<string, { app: SharingApp; stores: CheckedAppStores }>>();

/** Records `app`'s stores on the cloud whose provider is `provider` (SpinApp, once its stores are checked). */
export function recordAppStores(provider: object, app: SharingApp, stores: CheckedAppStores): void {
    const apps = constructed.get(provider) ?? new Map();
    constructed.set(provider, apps);
    apps.set(app.name, { app, stores });
}

/** The owner's checked store of `kind` and `label`, for `sharer`'s `sharedFrom`; throws when it cannot share it. */
export type OwnerStores = (sharer: SharingApp, kind: StoreKind, label: string) => CheckedAppStores[StoreKind][number];

/**
 * What `checkedAppStores` asks to resolve a shared store on this cloud: the owner's checked store,
 * or an error naming the fix (an owner constructed later, or not at all, on this cloud).
 */
export function ownerStoresOn(provider: object): OwnerStores {
    return (sharer, kind, label) => {
        const owner = sharedFromOf(sharer.stores?.[kind]?.[label]);
        const found = typeof owner === "string" ? constructed.get(provider)?.get(owner) : undefined;
        const error = sharingError(sharer, kind, label, found?.app,
            "on this cloud before it (declare the owner first: spinCloudProgram({ apps }) orders them itself)");
        if (error !== undefined) throw new Error(error);
        return found!.stores[kind].find((s) => s.label === label)!;
    };
}
