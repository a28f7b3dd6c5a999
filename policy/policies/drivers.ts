/**
 * raw_exec runs tasks as the Nomad client's user (root on AWS nodes) with no isolation. On AWS
 * neither a client may enable it nor a job use it; the local target runs everything under
 * raw_exec on purpose (one machine, as the operator) and is exempt, as it is from the quorum policy.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { NODE_LAYOUT } from "../../provisioning/agents/node-layout";
import { enablesRawExec, parseAgentJson } from "../lib/agent-config";
import { allTasks, jobName, NOMAD_JOB_TYPE, parseJobspec } from "../lib/nomad-job";
import { stackOfUrn } from "../lib/props";
import { stackConfigFromEnv } from "../lib/stack";
import { cloudConfigOfUserData, fileAt, INSTANCE_TYPE, LAUNCH_TEMPLATE_TYPE, userDataText } from "../lib/user-data";
import { configSchema, tunables } from "./config";
import { isLocalTarget } from "./stack";

export const RAW_EXEC = "raw_exec";

export const noRawExecOnAws: ResourceValidationPolicy = {
    name: "no-raw-exec-on-aws",
    description: "On AWS, no Nomad client enables the raw_exec driver and no job uses it (local target exempt).",
    enforcementLevel: "mandatory",
    configSchema: configSchema("localStacks"),
    validateResource: (args, report) => {
        if (![NOMAD_JOB_TYPE, INSTANCE_TYPE, LAUNCH_TEMPLATE_TYPE].includes(args.type)) {
            return args.notApplicable("Policy only applies to Nomad jobs, EC2 instances and launch templates");
        }
        const stack = stackOfUrn(args.urn);
        if (isLocalTarget(stack, stackConfigFromEnv(), tunables(args.getConfig, "localStacks").localStacks)) {
            return args.notApplicable(`stack '${stack}' is a local target`);
        }
        if (args.type === NOMAD_JOB_TYPE) {
            const parsed = parseJobspec(args.props);
            if (!parsed.ok) {
                return args.notApplicable(`the jobspec ${parsed.reason}`);
            }
            for (const task of allTasks(parsed.value).filter((t) => t.Driver === RAW_EXEC)) {
                report(`Nomad job '${jobName(parsed.value, args.name)}' (resource '${args.name}') task '${task.Name}' uses the ` +
                    `${RAW_EXEC} driver, which runs it unisolated as the client's user. Use exec (or docker).`);
            }
            return;
        }
        const text = userDataText(args.type, args.props);
        const config = text?.ok ? cloudConfigOfUserData(text.value) : undefined;
        const nomad = config?.ok ? fileAt(config.value, NODE_LAYOUT.nomad.configFile) : undefined;
        const parsed = nomad === undefined ? undefined : parseAgentJson(nomad);
        if (parsed && enablesRawExec(parsed)) {
            report(`${args.type === INSTANCE_TYPE ? "Instance" : "Launch template"} '${args.name}' enables Nomad's ${RAW_EXEC} ` +
                `driver in ${NODE_LAYOUT.nomad.configFile}. Remove the plugin block (the exec and docker drivers are what apps use).`);
        }
    },
};
