import * as pulumi from "@pulumi/pulumi";
import { CLIENT_NODE_CLASS } from "../../provisioning/platform";
import { LocalNode, localLayout } from "../../provisioning/local/node";
import { LocalPorts, localPorts, loopbackUrl } from "../../provisioning/loopback";
import { bindleApiUrl } from "../../provisioning/jobs/bindle-job";
import { LocalPlatform, hostPlatform, localBinaries } from "../../provisioning/local/releases";
import { Architecture } from "../../provisioning/types";
import { AppCloud, AppPlatform } from "../platform/app-platform";
import { BindleServer } from "../platform/bindle-server";
import { LocalAgents } from "./local-agents";
import { LocalAppData } from "./app-data";
import { LocalCloudArgs } from "../settings/local-config";
import { nomadProvider } from "../nomad";
import { NomadAccess } from "../platform/nomad-access";
import { Traefik } from "../platform/traefik";

export interface LocalCloudComponentArgs extends LocalCloudArgs {
    /** Cluster name (bindle names, Nomad node names); default `spin-cloud-<stack>`. */
    clusterName?: string;
    /** The machine; default: this one (`process.platform`, `process.arch`). */
    platform?: LocalPlatform;
}

const nodeArchitecture = (platform: LocalPlatform): Architecture => (platform.arch === "amd64" ? "x86_64" : "arm64");

/**
 * The whole platform on this machine, as the user running `pulumi up`: Consul and Nomad (server
 * and client in one agent) as background processes, then the same Traefik and Bindle jobs as on
 * AWS under `raw_exec`, everything on 127.0.0.1. `pulumi destroy` stops it all.
 */
export class LocalCloud extends pulumi.ComponentResource implements AppCloud {
    readonly platform: AppPlatform;
    readonly ports: LocalPorts;
    readonly stateDir: string;
    readonly urls: { nomadUi: string; consulUi: string; traefikDashboard: string; bindleApi: string; apps: string };
    readonly consulManagementToken: pulumi.Output<string>;
    readonly nomadManagementToken: pulumi.Output<string>;
    /** The `pulumi up` that starts the agents again after a reboot. */
    readonly restartCommand: pulumi.Output<string>;

    constructor(name: string, args: LocalCloudComponentArgs, opts?: pulumi.ComponentResourceOptions) {
        const machine = args.platform ?? hostPlatform();
        const ports = localPorts(args.portOffset);
        const node: LocalNode = {
            role: "local",
            architecture: nodeArchitecture(machine),
            clusterName: args.clusterName ?? `spin-cloud-${pulumi.getStack()}`,
            nomadRegion: args.nomadRegion,
            datacenter: args.datacenter,
            nodeClass: CLIENT_NODE_CLASS,
            ports,
            layout: localLayout(args.stateDir),
            binaries: localBinaries(args.cacheDir),
        };
        super("spin-cloud:local:LocalCloud", name, {}, opts);
        const parent = { parent: this };

        const agents = new LocalAgents(`${name}-agents`, { node, platform: machine, cacheDir: args.cacheDir }, parent);
        const nomadAddress = loopbackUrl(ports.nomadHttp);
        const nomad: NomadAccess = {
            provider: nomadProvider(`${name}-nomad`, { address: nomadAddress, secretId: agents.nomadManagementToken, region: node.nomadRegion }, parent),
            leader: agents.aclReady,
            // Nomad's jobs and variables live in its data directory: deleted with it on destroy.
            deletedWith: agents.nomadState,
        };
        new Traefik(`${name}-traefik`, {
            nomad,
            consulToken: agents.consulTraefikToken,
            job: {
                datacenters: [node.datacenter],
                architecture: node.architecture,
                runtime: { driver: "raw_exec", traefikBinary: node.binaries.traefik, ports },
            },
        }, parent);
        const bindleRuntime = { driver: "raw_exec", bindleServerBinary: node.binaries.bindleServer, port: ports.bindle, dataDir: node.layout.bindleData } as const;
        const bindle = new BindleServer(`${name}-bindle`, {
            nomad,
            datacenter: node.datacenter,
            architecture: node.architecture,
            operatorUrl: bindleApiUrl(bindleRuntime),
            runtime: bindleRuntime,
        }, parent);

        this.ports = ports;
        this.stateDir = node.layout.root;
        const apps = loopbackUrl(ports.traefikWeb);
        this.urls = {
            nomadUi: `${nomadAddress}/ui/`,
            consulUi: loopbackUrl(ports.consulHttp, "/ui/"),
            traefikDashboard: loopbackUrl(ports.traefikDashboard, "/dashboard/"),
            bindleApi: bindle.internalUrl,
            apps,
        };
        this.consulManagementToken = agents.consulManagementToken;
        this.nomadManagementToken = agents.nomadManagementToken;
        this.restartCommand = agents.restartCommand;
        this.platform = {
            clusterName: node.clusterName,
            datacenter: node.datacenter,
            architecture: node.architecture,
            sharedOrigin: pulumi.output(apps),
            runtime: { driver: "raw_exec", spinBinary: node.binaries.spin },
            nomad,
            bindle,
            // Apps' stores: files under <stateDir>/app-data, kept across redeploys, removed by destroy.
            stores: new LocalAppData(`${name}-app-data`, { stateDir: node.layout.root }, { parent: this, dependsOn: [agents.nomadState] }),
        };
        this.registerOutputs({ urls: this.urls, stateDir: this.stateDir });
    }
}
