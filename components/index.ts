/**
 * The public surface of spin-cloud: the clouds (AWS and local), the Spin app resource, and the
 * program that wires stack config to them. Import from here, not from the folders below.
 */
export { spinCloudProgram, EXAMPLE_APP_DIR } from "./program";
export type { DeclareApps, SpinCloudProgramOptions } from "./program";
export type { AppDeclaration } from "./apps/app-declarations";
export { SpinCloud } from "./aws/spin-cloud";
export type { SpinCloudComponentArgs } from "./aws/spin-cloud";
export { LocalCloud } from "./local/local-cloud";
export type { LocalCloudComponentArgs } from "./local/local-cloud";
export { SpinApp } from "./apps/spin-app";
export { SpinAppArgumentError } from "./apps/spin-app-args";
export type { SpinAppArgs } from "./apps/spin-app-args";
export type { AppCloud } from "./platform/app-platform";
export { ConfigError } from "./settings/config";
export type { SpinCloudArgs } from "./settings/config";
export type { LocalCloudArgs } from "./settings/local-config";
