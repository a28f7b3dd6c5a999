/**
 * The files of an app, checked before the first resource of the stack is registered: the source
 * directory, its spin.toml and each component's built local source (the manifest reader does all
 * three, components/apps/manifest.ts). The example app, switched on by a setting, is built by a
 * command; its error names both, so `exampleApp: true` before `bash apps/build.sh` stops preview at
 * once instead of after the whole cloud was declared. A user's app (`spinCloudProgram({ apps })`)
 * is built with `spin build` in its directory; its error names the app, `source` and that.
 */
import * as path from "path";
import { ConfigError } from "../settings/config";
import { SpinAppPackage, readSpinApp } from "./manifest";
import { SpinAppArgumentError } from "./spin-app-args";

/** Where an app comes from when a setting switches it on, and the command that builds it. */
export interface BuiltBy {
    /** The setting (without `spin-cloud:`) that declares the app. */
    readonly setting: string;
    /** The command that builds the app, run from the project root. */
    readonly command: string;
}

/** The manifest reader's mark on a component source that is not there (manifest.ts). */
const UNBUILT_HINT = " (run spin build?)";

/**
 * Reads the app at `dir` (relative to `root`) as SpinApp will. A missing directory, spin.toml or
 * built component source fails: with `builtBy`, as a ConfigError naming the setting and the build
 * command; else as a SpinAppArgumentError naming the app and its `source` (and, when a component
 * is not built, `spin build` in it).
 */
export function checkAppFiles(app: string, dir: string, builtBy?: BuiltBy, root: string = process.cwd()): SpinAppPackage {
    try {
        return readSpinApp(path.resolve(root, dir));
    } catch (error) {
        const message = (error as Error).message.split(path.resolve(root) + path.sep).join("");
        // The command said below replaces the reader's hint.
        const unbuilt = message.includes(UNBUILT_HINT);
        const reason = message.replace(UNBUILT_HINT, "");
        if (builtBy === undefined) {
            throw new SpinAppArgumentError(app, "source", dir, unbuilt
                ? `a built Spin app (${reason}): run \`spin build\` in ${dir} first`
                : `a Spin app directory with a valid spin.toml, relative to where pulumi runs (${reason})`);
        }
        throw new ConfigError(builtBy.setting, true,
            `true only once app ${app} in ${dir} is built (${reason}): run \`${builtBy.command}\` first, or set spin-cloud:${builtBy.setting} to false`);
    }
}
