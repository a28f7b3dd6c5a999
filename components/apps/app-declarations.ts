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
 * variables, `revisions` and `revision`.
 */
export function checkAppDeclarations(programApps: readonly ProgramApp[], apps: readonly AppDeclaration[], root: string = process.cwd()): void {
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
    }
}

/**
 * AWS: the SQLite labels of the declared apps that the platform libSQL server serves (every label
 * whose `stores.sqlite` entry names no `url`), so SpinCloud builds the server with all of them.
 * Call after `checkAppDeclarations` (the files are known to be there).
 */
export function platformLibsqlDatabases(programApps: readonly ProgramApp[], apps: readonly AppDeclaration[], root: string = process.cwd()): LibsqlDatabaseRef[] {
    const refs: LibsqlDatabaseRef[] = [];
    for (const app of [...programApps.map((p) => p.app), ...apps]) {
        const origin = appOrigin(app.name, app);
        const labels = origin.kind === "source" ? checkAppFiles(app.name, origin.dir, undefined, root).sqliteDatabases : Object.keys(app.stores?.sqlite ?? {});
        for (const label of labels) {
            const given = app.stores?.sqlite?.[label] as { backend?: string; url?: unknown } | undefined;
            if ((given?.backend ?? "libsql") === "libsql" && given?.url === undefined) refs.push({ app: app.name, label });
        }
    }
    return refs;
}

/** The declared apps as SpinApps on `cloud`, the program's own first. */
export function declareSpinApps(cloud: AppCloud, programApps: readonly ProgramApp[], apps: readonly AppDeclaration[]): SpinApp[] {
    return [...programApps.map((p) => p.app), ...apps].map(({ name, ...args }) => new SpinApp(name, { ...args, cloud }));
}
