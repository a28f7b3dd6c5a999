/**
 * The local target's app data: one `local.Command` step whose create makes `<stateDir>/app-data`
 * and whose delete (`pulumi destroy`) removes it, and the `AppStoreProvider` that backs every
 * key-value and SQLite label of an app with a file there (provisioning/local/app-data.ts).
 * Each store gets a step under its app whose delete removes the store's files; it carries
 * Pulumi's `retainOnDelete` (as the AWS tables do) unless the store says `retainOnDelete: false`,
 * so removing a store or an app keeps the data by default and preview shows `delete [retain]`.
 * The option applies as last deployed: set it to false and `pulumi up` before removing the store.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { appDataCommands, appDataRoot, localStorePaths, storeDataCommands } from "../../provisioning/local/app-data";
import { SpinAppStores } from "../../provisioning/jobs/spin-runtime-config";
import { AppStoreProvider, CheckedAppStores, ProvisionedAppStores } from "../apps/stores";
import { NomadAccess } from "../platform/nomad-access";

export interface LocalAppDataArgs {
    /** The local state directory (`localLayout(stateDir).root`). */
    readonly stateDir: string;
}

export class LocalAppData extends pulumi.ComponentResource implements AppStoreProvider {
    readonly target = "local" as const;
    readonly root: string;
    /** The step; an app's job depends on it so the directory exists before the task starts. */
    readonly step: command.local.Command;
    /** Store file → the step that made its directory: what an app sharing the store waits for. */
    private readonly storeSteps = new Map<string, command.local.Command>();

    constructor(name: string, args: LocalAppDataArgs, opts?: pulumi.ComponentResourceOptions) {
        const commands = appDataCommands(args.stateDir);
        super("spin-cloud:local:LocalAppData", name, {}, opts);
        this.root = appDataRoot(args.stateDir);
        // No triggers: a redeploy or `pulumi up` after a reboot never replaces (and so never empties) it.
        this.step = new command.local.Command(`${name}-dir`, commands, { parent: this });
        this.registerOutputs({ root: this.root });
    }

    /** Each label's file: the app's own, or the owner's for a store it shares (`sharedFrom`). */
    backends(app: string, stores: CheckedAppStores): SpinAppStores {
        // The app's own labels all at once: localStorePaths refuses two that differ only in case.
        localStorePaths(this.root, app, { keyValue: stores.keyValue.map((s) => s.label), sqlite: stores.sqlite.map((s) => s.label) });
        const of = (owner: string, label: string) => localStorePaths(this.root, owner, { keyValue: [label], sqlite: [label] });
        return {
            keyValue: Object.fromEntries(stores.keyValue.map(({ label, sharedFrom }) => [label, of(sharedFrom ?? app, label).keyValue![label]])),
            sqlite: Object.fromEntries(stores.sqlite.map(({ label, sharedFrom }) => [label, of(sharedFrom ?? app, label).sqlite![label]])),
        };
    }

    /**
     * One step per store of the app's own (`<app>-kv-<label>-data`, `<app>-sqlite-<label>-data`)
     * after the root's; a shared store's step is its owner's (constructed first), which the job
     * waits for too. No secrets.
     */
    provision(app: string, _jobId: string, stores: CheckedAppStores, _nomad: NomadAccess, parent: pulumi.Resource): ProvisionedAppStores {
        const backends = this.backends(app, stores);
        const steps = ([["kv", "keyValue"], ["sqlite", "sqlite"]] as const).flatMap(([short, kind]) => stores[kind].map(({ label, args, sharedFrom }) => {
            const b = backends[kind]![label];
            if (b.type !== "spin") throw new Error(`local app data: stores.${kind}.${label} has backend ${b.type}; the local target keeps spin files`);
            if (sharedFrom !== undefined) return this.storeSteps.get(b.path)!;
            const step = new command.local.Command(`${app}-${short}-${label}-data`, storeDataCommands(this.root, b.path),
                { parent, dependsOn: [this.step], retainOnDelete: args.retainOnDelete !== false });
            this.storeSteps.set(b.path, step);
            return step;
        }));
        return { resources: [this.step, ...steps], secrets: {} };
    }
}
