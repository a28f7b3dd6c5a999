import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { argsFromConfig, rejectUnknownKeys } from "./config";
import { SpinApp } from "./spin-app";
import { SpinCloud } from "./spin-cloud";

/** The example app, relative to the project root (where `pulumi` runs the program). */
export const EXAMPLE_APP_DIR = "apps/hello";

/**
 * The program behind `index.ts`: reads `spin-cloud:*` stack config, builds the cloud and returns
 * the stack outputs. A function, so tests can evaluate every stack in one process.
 */
export function spinCloudProgram() {
    rejectUnknownKeys(Object.keys(pulumi.runtime.allConfig()));
    const config = new pulumi.Config("spin-cloud");
    const awsRegion = aws.config.region;
    if (!awsRegion) {
        throw new Error("aws:region is not set: run `pulumi config set aws:region <region>` (e.g. eu-west-1)");
    }
    const cloud = new SpinCloud("spin-cloud", { ...argsFromConfig((key) => config.get(key)), awsRegion });
    const apps = cloud.settings.exampleApp ? [new SpinApp("hello", { cloud, source: EXAMPLE_APP_DIR })] : [];
    return {
        vpcId: cloud.vpcId,
        serverPrivateIps: cloud.serverPrivateIps,
        nomadAddress: cloud.nomadAddress,
        consulAddress: cloud.consulAddress,
        clientAsgName: cloud.clientAsgName,
        caCertPem: cloud.caCertPem,
        operatorCommands: cloud.operatorCommands,
        appsEndpoint: cloud.appsEndpoint,
        appUrls: Object.fromEntries(apps.map((app) => [app.jobId, app.url])),
        operatorUrls: cloud.operatorUrls,
        consulManagementToken: cloud.consulManagementToken,
        nomadManagementToken: cloud.nomadManagementToken,
    };
}
