import { spinCloudProgram } from "./components/program";

const outputs = spinCloudProgram();

export const vpcId = outputs.vpcId;
export const serverPrivateIps = outputs.serverPrivateIps;
export const nomadAddress = outputs.nomadAddress;
export const consulAddress = outputs.consulAddress;
export const clientAsgName = outputs.clientAsgName;
export const caCertPem = outputs.caCertPem;
export const operatorCommands = outputs.operatorCommands;
export const appsEndpoint = outputs.appsEndpoint;
export const appUrls = outputs.appUrls;
export const operatorUrls = outputs.operatorUrls;
/** Secrets: read with `pulumi stack output --show-secrets consulManagementToken`. */
export const consulManagementToken = outputs.consulManagementToken;
export const nomadManagementToken = outputs.nomadManagementToken;
