/**
 * The files of an app, checked before the first resource of the stack is registered: the source
 * directory, its spin.toml and each component's built local source (the manifest reader does all
 * three, components/apps/manifest.ts). The example app, switched on by a setting, is built by a
 * command; its error names both, so `exampleApp: true` before `bash apps/build.sh` stops preview at
 * once instead of after the whole cloud was declared.
 */
import * as path from "path";
import { ConfigError } from "../settings/config";
import { SpinAppPackage, readSpinApp } from "./manifest";

/** Where an app comes from when a setting switches it on, and the command that builds it. */
export interface BuiltBy {
    /** The setting (without `spin-cloud:`) that declares the app. */
    readonly setting: string;
    /** The command that builds the app, run from the project root. */
    readonly command: string;
}

/**
 * Reads the app at `dir` (relative to `root`) as SpinApp will. A missing directory, spin.toml or
 * built component source fails: with `builtBy`, as a ConfigError naming the setting and the build
 * command; else naming the app and its directory.
 */
export function checkAppFiles(app: string, dir: string, builtBy?: BuiltBy, root: string = process.cwd()): SpinAppPackage {
    try {
        return readSpinApp(path.resolve(root, dir));
    } catch (error) {
        const reason = (error as Error).message.split(path.resolve(root) + path.sep).join("");
        if (builtBy === undefined) {
            throw new Error(`SpinApp ${app}: source = ${JSON.stringify(dir)} is not a built Spin app: ${reason}`);
        }
        // The manifest reader's hint `(run spin build?)` is not how this app is built: the command below is.
        throw new ConfigError(builtBy.setting, true,
            `true only once app ${app} in ${dir} is built (${reason.replace(/ \(run spin build\?\)/, "")}): run \`${builtBy.command}\` first, or set spin-cloud:${builtBy.setting} to false`);
    }
}
