import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { argsFromConfig, rejectUnknownKeys, resolveSpinCloudArgs } from "./settings/config";
import { checkAppFiles } from "./apps/app-files";
import { allSettingKeys, checkTargetKeys, resolveLocalCloudArgs, targetOf } from "./settings/local-config";
import { LocalCloud } from "./local/local-cloud";
import { SpinApp } from "./apps/spin-app";
import { SpinCloud } from "./aws/spin-cloud";
import { AppCloud } from "./platform/app-platform";

/** The example app, relative to the project root (where `pulumi` runs the program). */
export const EXAMPLE_APP_DIR = "apps/hello";
/** What builds it (README command 1). */
export const EXAMPLE_APP_BUILD = "bash apps/build.sh";

/** Before the first resource: with `exampleApp` on, the example app must be built (its error names the setting and the command). */
function checkExampleApp(enabled: boolean): void {
    if (enabled) checkAppFiles("hello", EXAMPLE_APP_DIR, { setting: "exampleApp", command: EXAMPLE_APP_BUILD });
}

function exampleApps(cloud: AppCloud, enabled: boolean, instances?: number): SpinApp[] {
    return enabled ? [new SpinApp("hello", { cloud, source: EXAMPLE_APP_DIR, instances })] : [];
}

const appUrls = (apps: SpinApp[]) => Object.fromEntries(apps.map((app) => [app.jobId, app.url]));

/** Your apps: called once with the stack's cloud (AWS or local); every app it returns gets its URL in `appUrls`. */
export type DeclareApps = (cloud: AppCloud) => SpinApp[];

function awsProgram(config: pulumi.Config, declareApps: DeclareApps) {
    const awsRegion = aws.config.region;
    if (!awsRegion) {
        throw new Error("aws:region is not set: run `pulumi config set aws:region <region>` (e.g. eu-west-1)");
    }
    const args = argsFromConfig((key) => config.get(key));
    // Settings and the example app's files are checked before SpinCloud registers anything.
    checkExampleApp(resolveSpinCloudArgs(args).exampleApp);
    const cloud = new SpinCloud("spin-cloud", { ...args, awsRegion });
    const apps = [...exampleApps(cloud, cloud.settings.exampleApp), ...declareApps(cloud)];
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
        operatorUrls: cloud.operatorUrls,
        consulManagementToken: cloud.consulManagementToken,
        nomadManagementToken: cloud.nomadManagementToken,
    };
}

function localProgram(config: pulumi.Config, declareApps: DeclareApps) {
    const args = resolveLocalCloudArgs((key) => config.get(key), pulumi.getStack());
    checkExampleApp(args.exampleApp);
    const cloud = new LocalCloud("spin-cloud", args);
    // One instance: a laptop gains nothing from two copies of the same app.
    const apps = [...exampleApps(cloud, args.exampleApp, 1), ...declareApps(cloud)];
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
 * The program behind `index.ts`: reads `spin-cloud:*` stack config, builds the cloud of the
 * stack's target (AWS or this machine), declares the example app and `declareApps`' apps on it, and
 * returns the stack outputs. A function, so tests can evaluate every stack in one process.
 */
export function spinCloudProgram(declareApps: DeclareApps = () => []) {
    const all = pulumi.runtime.allConfig();
    rejectUnknownKeys(Object.keys(all), allSettingKeys());
    const config = new pulumi.Config("spin-cloud");
    const target = targetOf((key) => config.get(key));
    checkTargetKeys(target, all);
    switch (target) {
        case "aws":
            return awsProgram(config, declareApps);
        case "local":
            return localProgram(config, declareApps);
        default:
            throw new Error(`unexpected target ${JSON.stringify(target)}`);
    }
}
