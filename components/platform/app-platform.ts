import * as pulumi from "@pulumi/pulumi";
import { SpinAppRuntime } from "../../provisioning/jobs/spin-app-job";
import { Architecture } from "../../provisioning/types";
import { BindleServer } from "./bindle-server";
import { NomadAccess } from "./nomad-access";
import type { AppStoreProvider } from "../apps/stores";

/**
 * What a SpinApp needs from the cloud it deploys to. The AWS cloud (SpinCloud) and the local
 * target (LocalCloud) each provide one, so an app is declared the same way on both.
 */
export interface AppPlatform {
    /** Cluster name: the apps' bindles are named `spin-cloud/<clusterName>/<app>`. */
    readonly clusterName: string;
    /** Nomad datacenter the app jobs run in. */
    readonly datacenter: string;
    /** CPU architecture of the clients. */
    readonly architecture: Architecture;
    /** With a domain, apps answer on `<app>.<domain>` over HTTPS by default. */
    readonly appsDomain?: string;
    /** Origin (`scheme://host[:port]`) where apps routed by path prefix answer. */
    readonly sharedOrigin: pulumi.Output<string>;
    /** How Spin runs on the clients. */
    readonly runtime: SpinAppRuntime;
    readonly nomad: NomadAccess;
    /** Where apps are pushed. */
    readonly bindle: BindleServer;
    /** CA that `bindle.url` presents a certificate of, if it is HTTPS. */
    readonly caCertPem?: pulumi.Output<string>;
    /** Backs the apps' key-value stores and SQLite databases (README "Data"). */
    readonly stores: AppStoreProvider;
}

/** A cloud apps deploy to: `new SpinApp(name, { cloud, … })` takes SpinCloud or LocalCloud. */
export interface AppCloud {
    readonly platform: AppPlatform;
}
