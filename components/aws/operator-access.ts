/** Ready-to-paste operator commands. Pure: the values come from stack outputs. */

/** Builds the `aws ssm start-session` command that forwards `port` on the target to localhost. */
export function portForwardCommand(awsRegion: string, instanceId: string, port: number): string {
    const parameters = JSON.stringify({ portNumber: [String(port)], localPortNumber: [String(port)] });
    return `aws ssm start-session --region ${awsRegion} --target ${instanceId} ` +
        `--document-name AWS-StartPortForwardingSession --parameters '${parameters}'`;
}

/** Builds the `aws ssm start-session` command that opens a shell on the target. */
export function shellCommand(awsRegion: string, instanceId: string): string {
    return `aws ssm start-session --region ${awsRegion} --target ${instanceId}`;
}

export interface OperatorCommands {
    readonly shell: string;
    readonly nomadPortForward: string;
    readonly consulPortForward: string;
}

export const NOMAD_HTTP_PORT = 4646;
export const CONSUL_HTTPS_PORT = 8501;

export function operatorCommands(awsRegion: string, serverInstanceId: string): OperatorCommands {
    return {
        shell: shellCommand(awsRegion, serverInstanceId),
        nomadPortForward: portForwardCommand(awsRegion, serverInstanceId, NOMAD_HTTP_PORT),
        consulPortForward: portForwardCommand(awsRegion, serverInstanceId, CONSUL_HTTPS_PORT),
    };
}
