import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { argsFromConfig, rejectUnknownKeys, resolveSpinCloudArgs } from "./settings/config";
import { setByStack } from "./settings/project-config";
import { AppDeclaration, ProgramApp, checkAppDeclarations, declareSpinApps, platformLibsqlDatabases } from "./apps/app-declarations";
import { allSettingKeys, checkTargetKeys, resolveLocalCloudArgs, targetOf } from "./settings/local-config";
import { LocalCloud } from "./local/local-cloud";
import { SpinApp } from "./apps/spin-app";
import { clusterNameOf, SpinCloud } from "./aws/spin-cloud";
import { checkAppStoreIam } from "./aws/app-store-iam";
import { AppCloud } from "./platform/app-platform";

/** The example app, relative to the project root (where `pulumi` runs the program). */
export const EXAMPLE_APP_DIR = "apps/hello";
/** What builds it (README command 1). */
export const EXAMPLE_APP_BUILD = "bash apps/build.sh";

/** The example app when `exampleApp` is on; its files' error names the setting and the command. */
function exampleApps(enabled: boolean, instances?: number): ProgramApp[] {
    const app: AppDeclaration = { name: "hello", source: EXAMPLE_APP_DIR, ...(instances !== undefined ? { instances } : {}) };
    return enabled ? [{ app, builtBy: { setting: "exampleApp", command: EXAMPLE_APP_BUILD } }] : [];
}

const appUrls = (apps: SpinApp[]) => Object.fromEntries(apps.map((app) => [app.jobId, app.url]));

/** Apps that need the cloud object: called once with the stack's cloud (AWS or local). */
export type DeclareApps = (cloud: AppCloud) => SpinApp[];

export interface SpinCloudProgramOptions {
    /**
     * Your apps, as data (SpinAppArgs without `cloud`, plus `name`). Every app's files, manifest,
     * triggers, variables and revisions are checked before the program registers its first
     * resource; then each becomes a SpinApp on the stack's cloud, its URL in `appUrls`.
     */
    readonly apps?: readonly AppDeclaration[];
    /**
     * Apps built in code from the cloud (AWS or local), for what `apps` cannot say. They are checked
     * only when constructed, after the whole cloud was declared; prefer `apps`.
     */
    readonly declareApps?: DeclareApps;
}

/**
 * The apps of the program: the example app and `apps`, checked together before anything is
 * registered; with the SQLite databases the AWS platform's libSQL server must hold for them.
 */
function programApps(programOwn: readonly ProgramApp[], options: SpinCloudProgramOptions) {
    const apps = options.apps ?? [];
    const { stores, order } = checkAppDeclarations(programOwn, apps);
    const declare = (cloud: AppCloud) => [...declareSpinApps(cloud, programOwn, apps, order), ...(options.declareApps?.(cloud) ?? [])];
    return { declare, stores, libsqlDatabases: () => platformLibsqlDatabases(programOwn, apps) };
}

function awsProgram(get: (key: string) => string | undefined, options: SpinCloudProgramOptions) {
    const awsRegion = aws.config.region;
    if (!awsRegion) {
        throw new Error("aws:region is not set: run `pulumi config set aws:region <region>` (e.g. eu-west-1)");
    }
    const args = argsFromConfig(get);
    // Settings and every app's files are checked before SpinCloud registers anything.
    const { declare, stores, libsqlDatabases } = programApps(exampleApps(resolveSpinCloudArgs(args).exampleApp), options);
    // AWS's limits on the apps' DynamoDB names, tags and policies, before the cloud registers anything.
    checkAppStoreIam(clusterNameOf({}), awsRegion, stores);
    const cloud = new SpinCloud("spin-cloud", { ...args, awsRegion, libsqlDatabases: libsqlDatabases() });
    const apps = declare(cloud);
    return {
        vpcId: cloud.vpcId,
        serverPrivateIps: cloud.serverPrivateIps,
        nomadAddress: cloud.nomadAddress,
        consulAddress: cloud.consulAddress,
        clientAsgName: cloud.clientAsgName,
        caCertPem: cloud.caCertPem,
        operatorCommands: cloud.operatorCommands,
        appsEndpoint: cloud.appsEndpoint,
        appUrls: appUrls(apps),
        libsqlDatabases: cloud.libsqlDatabases,
        operatorUrls: cloud.operatorUrls,
        consulManagementToken: cloud.consulManagementToken,
        nomadManagementToken: cloud.nomadManagementToken,
    };
}

function localProgram(get: (key: string) => string | undefined, options: SpinCloudProgramOptions) {
    const args = resolveLocalCloudArgs(get, pulumi.getStack());
    // One instance of the example app: a laptop gains nothing from two copies of the same app.
    const { declare } = programApps(exampleApps(args.exampleApp, 1), options);
    const cloud = new LocalCloud("spin-cloud", args);
    const apps = declare(cloud);
    return {
        appsEndpoint: cloud.urls.apps,
        appUrls: appUrls(apps),
        operatorUrls: {
            nomad: cloud.urls.nomadUi,
            consul: cloud.urls.consulUi,
            traefik: cloud.urls.traefikDashboard,
            bindle: cloud.urls.bindleApi,
        },
        stateDir: cloud.stateDir,
        restartCommand: cloud.restartCommand,
        consulManagementToken: cloud.consulManagementToken,
        nomadManagementToken: cloud.nomadManagementToken,
    };
}

/**
 * The program behind `index.ts`: reads `spin-cloud:*` stack config, checks it and every app of
 * `options.apps` (and the example app), then builds the cloud of the stack's target (AWS or this
 * machine), declares the apps on it and returns the stack outputs. A bare function is taken as
 * `declareApps`. A function, so tests can evaluate every stack in one process.
 */
export function spinCloudProgram(options: SpinCloudProgramOptions | DeclareApps = {}) {
    const opts: SpinCloudProgramOptions = typeof options === "function" ? { declareApps: options } : options;
    const all = pulumi.runtime.allConfig();
    rejectUnknownKeys(Object.keys(all), allSettingKeys());
    // Only what the stack sets: Pulumi.yaml's not-set defaults dropped (settings/project-config.ts).
    const set = setByStack(all);
    const get = (key: string): string | undefined => set[`spin-cloud:${key}`];
    const target = targetOf(get);
    checkTargetKeys(target, set);
    switch (target) {
        case "aws":
            return awsProgram(get, opts);
        case "local":
            return localProgram(get, opts);
        default:
            throw new Error(`unexpected target ${JSON.stringify(target)}`);
    }
}
