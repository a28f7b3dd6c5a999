/**
 * Apps declared as data (`spinCloudProgram({ apps: [...] })`): SpinAppArgs without the cloud,
 * plus a name. Because they need no cloud, the program checks all of them (their files, manifest,
 * triggers, variables, revisions and names) before it registers its first resource, and only
 * then makes each a SpinApp on the stack's cloud. What needs the cloud (routes against its
 * domain, stores against its target) is checked when the SpinApp is constructed, still before it
 * registers anything.
 */
import { LibsqlDatabaseRef } from "../../provisioning/jobs/libsql-databases";
import { AppCloud } from "../platform/app-platform";
import { BuiltBy, checkAppFiles } from "./app-files";
import { SpinApp } from "./spin-app";
import { AppArgsWithoutCloud, SpinAppArgumentError, appOrigin, checkRevisions, checkTriggers, checkVariables } from "./spin-app-args";
import { checkStoreSharing, isShared, SharingApp } from "./store-sharing";

/** One app of `spinCloudProgram({ apps })`: what `new SpinApp(name, { cloud, ... })` takes, without `cloud`. */
export interface AppDeclaration extends AppArgsWithoutCloud {
    /** The app's name: its Nomad job is `app-<name>`, its default path `/<name>`. */
    readonly name: string;
}

/** An app the program declares itself (the example app): the setting that switches it on and its build command. */
export interface ProgramApp {
    readonly app: AppDeclaration;
    readonly builtBy: BuiltBy;
}

/**
 * Every check of the apps that needs no cloud, in order, before anything is registered: names
 * given once, exactly one of `source` and `bindle`, a `source`'s built files (the error says what
 * to run: the setting's build command, else `spin build` in that directory), its triggers and
 * variables, `revisions` and `revision`; then the stores they share from one another. Returns
 * each app's store labels and options (for the target's own checks), and the order that declares
 * owners first (for declareSpinApps).
 */
export function checkAppDeclarations(programApps: readonly ProgramApp[], apps: readonly AppDeclaration[], root: string = process.cwd()): { stores: SharingApp[]; order: string[] } {
    const sharing: SharingApp[] = [];
    const owners = new Map<string, string>();
    const all = [...programApps.map((p) => ({ app: p.app, builtBy: p.builtBy as BuiltBy | undefined, where: `spin-cloud:${p.builtBy.setting}` })),
        ...apps.map((app, i) => ({ app, builtBy: undefined, where: `apps[${i}]` }))];
    for (const { app, builtBy, where } of all) {
        if (typeof app.name !== "string" || app.name === "") {
            throw new SpinAppArgumentError(String(app.name), `${where}.name`, app.name, "a non-empty app name");
        }
        const owner = owners.get(app.name);
        if (owner !== undefined) {
            throw new SpinAppArgumentError(app.name, "name", app.name, `a name no other app has; ${owner} already declares app ${app.name}`);
        }
        owners.set(app.name, where);
        const origin = appOrigin(app.name, app);
        if (origin.kind === "source") {
            const pkg = checkAppFiles(app.name, origin.dir, builtBy, root);
            checkTriggers(app.name, pkg.triggers);
            checkVariables(app.name, pkg.variables, app);
        }
        checkRevisions(app.name, app);
        sharing.push({ name: app.name, declared: declaredStores(app, root), stores: app.stores });
    }
    return { stores: sharing, order: checkStoreSharing(sharing) };
}

/** The store labels an app uses: its spin.toml's, or for a prebuilt bindle the `stores` keys (as SpinApp reads them). */
function declaredStores(app: AppDeclaration, root: string): SharingApp["declared"] {
    const origin = appOrigin(app.name, app);
    if (origin.kind === "bindle") return { keyValue: Object.keys(app.stores?.keyValue ?? {}), sqlite: Object.keys(app.stores?.sqlite ?? {}) };
    const pkg = checkAppFiles(app.name, origin.dir, undefined, root);
    return { keyValue: pkg.keyValueStores, sqlite: pkg.sqliteDatabases };
}

/**
 * AWS: the SQLite labels of the declared apps that the platform libSQL server serves (every label
 * whose `stores.sqlite` entry names no `url`), so SpinCloud builds the server with all of them.
 * Call after `checkAppDeclarations` (the files are known to be there).
 */
export function platformLibsqlDatabases(programApps: readonly ProgramApp[], apps: readonly AppDeclaration[], root: string = process.cwd()): LibsqlDatabaseRef[] {
    const refs: LibsqlDatabaseRef[] = [];
    for (const app of [...programApps.map((p) => p.app), ...apps]) {
        for (const label of declaredStores(app, root).sqlite) {
            const given = app.stores?.sqlite?.[label] as { backend?: string; url?: unknown } | undefined;
            // A shared database is its owner's namespace: the sharer gets a token for it, not one of its own.
            if (isShared(given)) continue;
            if ((given?.backend ?? "libsql") === "libsql" && given?.url === undefined) refs.push({ app: app.name, label });
        }
    }
    return refs;
}

/**
 * The declared apps as SpinApps on `cloud`, constructed in `order` (checkAppDeclarations: an app
 * whose store another shares comes before it) and returned in the declared order (the program's own first).
 */
export function declareSpinApps(cloud: AppCloud, programApps: readonly ProgramApp[], apps: readonly AppDeclaration[], order: readonly string[]): SpinApp[] {
    const all = [...programApps.map((p) => p.app), ...apps];
    const made = new Map(order.map((name) => {
        const { name: _name, ...args } = all.find((a) => a.name === name)!;
        return [name, new SpinApp(name, { ...args, cloud })] as const;
    }));
    return all.map((a) => made.get(a.name)!);
}
