/**
 * The local target's machine layer, the counterpart of NomadCluster on AWS: binaries installed and
 * verified, agent config and secret files written, Consul and Nomad started as background
 * processes of the user, their ACLs set up. Every step is a `local.Command` whose shell text comes
 * from provisioning/local/commands.ts; `pulumi destroy` runs each `delete` in reverse order.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CONSUL_ACL_POLICIES, renderConsulPolicyRules } from "../../provisioning/agents/consul-acl-policies";
import { LocalNode } from "../../provisioning/local/node";
import {
    localConsulSecrets, localNomadSecrets, renderLocalConsulAgentConfig, renderLocalNomadAgentConfig,
} from "../../provisioning/local/agent-config";
import {
    FILE_CONTENT_ENV, agentStartCommand, agentStopCommand, consulAclCommand, consulAgentSpec, consulTokenEnv,
    installCommand, nomadAclCommand, nomadAgentSpec, nomadStopJobsCommand, preflightCommand, removeFilesCommand, stateDirCommands,
    writeFileCommand,
} from "../../provisioning/local/commands";
import { LOCAL_PRODUCTS, LocalPlatform, installArgs } from "../../provisioning/local/releases";
import { jsonFile } from "../../provisioning/json-file";

/** The Consul policies the local platform uses: no DNS token, nothing resolves `*.consul` here. */
export const LOCAL_CONSUL_POLICIES = ["consul-agent", "nomad-agent", "traefik"] as const;

export interface LocalAgentsArgs {
    node: LocalNode;
    platform: LocalPlatform;
    cacheDir: string;
}

/** Consul and Nomad running on this machine, ACLs on; `aclReady` gates every Nomad resource. */
export class LocalAgents extends pulumi.ComponentResource {
    /**
     * Nomad's ACLs are bootstrapped: the gate every Nomad resource waits for. Its delete, the
     * first step of a destroy once those resources are gone, stops every job and waits (bounded)
     * until no allocation runs, before the agent stops (a no-op when the agent is down).
     */
    readonly aclReady: pulumi.Resource;
    /** The state directory step, whose delete removes Nomad's data (jobs, variables) after the agents stop. */
    readonly nomadState: pulumi.Resource;
    readonly consulManagementToken: pulumi.Output<string>;
    readonly nomadManagementToken: pulumi.Output<string>;
    /** Traefik's Consul token (policy `traefik`). */
    readonly consulTraefikToken: pulumi.Output<string>;
    /**
     * Starts the agents again after they stopped outside Pulumi (a reboot): replacing the two
     * agent commands runs their stop (a no-op when gone) and start, then the ACL steps; Nomad's
     * data directory keeps the jobs, which it restarts.
     */
    readonly restartCommand: pulumi.Output<string>;

    constructor(name: string, args: LocalAgentsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:local:LocalAgents", name, {}, opts);
        const { node } = args;
        const { layout } = node;
        const token = (role: string) => pulumi.secret(new random.RandomUuid(`${name}-${role}`, {}, { parent: this }).result);
        const tokens = {
            consulManagement: token("consul-management-token"),
            consulAgent: token("consul-agent-token"),
            consulNomad: token("consul-nomad-token"),
            consulTraefik: token("consul-traefik-token"),
            nomadManagement: token("nomad-management-token"),
        };
        const policyToken: Record<(typeof LOCAL_CONSUL_POLICIES)[number], pulumi.Output<string>> = {
            "consul-agent": tokens.consulAgent,
            "nomad-agent": tokens.consulNomad,
            traefik: tokens.consulTraefik,
        };

        const run = (step: string, props: command.local.CommandArgs, dependsOn: pulumi.Input<pulumi.Resource>[] = [], extra: pulumi.CustomResourceOptions = {}) =>
            new command.local.Command(`${name}-${step}`, props, { parent: this, dependsOn, ...extra });
        const preflight = run("preflight", { create: preflightCommand(node.ports) });
        // Deleted last on destroy (everything below depends on it): the agents' data goes too.
        const state = run("state", stateDirCommands(layout.root, [layout.consul.dataDir, layout.nomad.dataDir, layout.bindleData]), [preflight]);
        const installs = LOCAL_PRODUCTS.map((product) =>
            run(`install-${product}`, { create: installCommand(installArgs(product, args.platform, args.cacheDir)) }, [preflight]));
        const file = (step: string, path: string, content: pulumi.Input<string>, mode: "0600" | "0644") =>
            run(`file-${step}`, {
                create: writeFileCommand(path, mode),
                delete: removeFilesCommand([path]),
                environment: { [FILE_CONTENT_ENV]: content },
            }, [preflight]);

        const consulConfig = renderLocalConsulAgentConfig(node);
        const consulFiles = [
            file("consul-config", layout.consul.configFile, consulConfig, "0644"),
            file("consul-secrets", layout.consul.secretsFile, pulumi.secret(pulumi.all([tokens.consulManagement, tokens.consulAgent])
                .apply(([managementToken, agentToken]) => jsonFile(localConsulSecrets({ managementToken, agentToken })))), "0600"),
            ...LOCAL_CONSUL_POLICIES.map((policy) => file(`consul-policy-${policy}`, `${layout.consul.policyDir}/${policy}.json`,
                renderConsulPolicyRules(CONSUL_ACL_POLICIES.find((p) => p.name === policy)!), "0644")),
        ];
        const consulAgent = consulAgentSpec(node.binaries.consul, layout.consul.configDir, layout.root, node.ports);
        // Replaced (stopped, then started) when its config changes; never two at once on one port.
        const consul = run("consul", {
            create: agentStartCommand(consulAgent),
            delete: agentStopCommand(consulAgent),
            triggers: [consulConfig],
        }, [state, ...installs, ...consulFiles], { deleteBeforeReplace: true });
        const consulAcl = run("consul-acl", {
            create: consulAclCommand(node.binaries.consul, layout.consul.policyDir, LOCAL_CONSUL_POLICIES),
            environment: {
                CONSUL_HTTP_ADDR: consulAgent.address,
                CONSUL_HTTP_TOKEN: tokens.consulManagement,
                ...Object.fromEntries(LOCAL_CONSUL_POLICIES.map((p) => [consulTokenEnv(p), policyToken[p]])),
            },
            // A restarted Consul keeps its data, but checking the tokens again costs nothing.
            triggers: [consul.id],
        }, [consul]);

        const nomadConfig = renderLocalNomadAgentConfig(node);
        const nomadFiles = [
            file("nomad-config", layout.nomad.configFile, nomadConfig, "0644"),
            file("nomad-secrets", layout.nomad.secretsFile, pulumi.secret(tokens.consulNomad
                .apply((consulToken) => jsonFile(localNomadSecrets({ consulToken })))), "0600"),
        ];
        const nomadAgent = nomadAgentSpec(node.binaries.nomad, layout.nomad.configDir, layout.root, node.ports);
        const nomad = run("nomad", {
            create: agentStartCommand(nomadAgent),
            delete: agentStopCommand(nomadAgent),
            triggers: [nomadConfig],
        }, [state, ...installs, ...nomadFiles, consulAcl], { deleteBeforeReplace: true });
        const nomadEnv = { NOMAD_ADDR: nomadAgent.address, SPIN_CLOUD_NOMAD_MANAGEMENT_TOKEN: tokens.nomadManagement };
        const nomadAcl = run("nomad-acl", {
            create: nomadAclCommand(node.binaries.nomad),
            environment: nomadEnv,
            triggers: [nomad.id],
        }, [nomad]);
        // Nothing on create; not replaced with the agent (no trigger), so a restart stops no job.
        this.aclReady = run("nomad-jobs", {
            delete: nomadStopJobsCommand(node.binaries.nomad),
            environment: nomadEnv,
        }, [nomadAcl]);
        this.nomadState = state;

        this.consulManagementToken = tokens.consulManagement;
        this.nomadManagementToken = tokens.nomadManagement;
        this.consulTraefikToken = tokens.consulTraefik;
        this.restartCommand = pulumi.interpolate`pulumi up --stack ${pulumi.getStack()} --replace '${consul.urn}' --replace '${nomad.urn}'`;
        this.registerOutputs({ restartCommand: this.restartCommand });
    }
}
