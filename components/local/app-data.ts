/**
 * The local target's app data: one `local.Command` step whose create makes `<stateDir>/app-data`
 * and whose delete (`pulumi destroy`) removes it, and the `AppStoreProvider` that backs every
 * key-value and SQLite label of an app with a file there (provisioning/local/app-data.ts).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { appDataCommands, appDataRoot, localStorePaths } from "../../provisioning/local/app-data";
import { SpinAppStores } from "../../provisioning/jobs/spin-runtime-config";
import { AppStoreProvider, CheckedAppStores } from "../apps/stores";
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

    constructor(name: string, args: LocalAppDataArgs, opts?: pulumi.ComponentResourceOptions) {
        const commands = appDataCommands(args.stateDir);
        super("spin-cloud:local:LocalAppData", name, {}, opts);
        this.root = appDataRoot(args.stateDir);
        // No triggers: a redeploy or `pulumi up` after a reboot never replaces (and so never empties) it.
        this.step = new command.local.Command(`${name}-dir`, commands, { parent: this });
        this.registerOutputs({ root: this.root });
    }

    backends(app: string, stores: CheckedAppStores): SpinAppStores {
        return localStorePaths(this.root, app, { keyValue: stores.keyValue.map((s) => s.label), sqlite: stores.sqlite.map((s) => s.label) });
    }

    /** Nothing per app: Spin creates `<root>/<app>/...` inside the existing root. */
    provision(_app: string, _jobId: string, _stores: CheckedAppStores, _nomad: NomadAccess, _parent: pulumi.Resource): pulumi.Resource[] {
        return [this.step];
    }
}
