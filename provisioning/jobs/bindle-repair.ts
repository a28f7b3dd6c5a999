/**
 * The `bindle-repair` prestart task of the `bindle` job: before bindle-server starts (at every
 * start of the allocation, and at `nomad job restart -all-tasks bindle`), bindle-repair.sh
 * removes the parcel directories an interrupted upload left without `parcel.dat`, which the
 * server would otherwise refuse forever (409; the script's header cites deislabs/bindle
 * src/provider/file/mod.rs). It runs under the same runtime as the server: exec as the `bindle`
 * user with the store's host volume mounted, or raw_exec on the local store.
 *
 * Nomad references (hashicorp/nomad v1.6.3): job-specification/lifecycle.mdx (a `prestart` task
 * that is not a sidecar runs to completion before the main tasks start);
 * client/allocrunner/alloc_runner.go `RestartAll` (`-all-tasks`: dead tasks run again, in their
 * lifecycle order; the main task is killed concurrently, so the script leaves a parcel whose
 * .part is still being written); template.mdx (the script is rendered from `data`, which Nomad
 * does not interpolate: client/allocrunner/taskrunner/template/template.go `ct.Contents`).
 */
import { readFileSync } from "fs";
import * as path from "path";
import { BINDLE_HOST_VOLUME } from "../platform";
import { assertNever } from "../types";
import { NomadTask, NomadTaskLifecycle, NomadTemplate } from "./nomad-api";
import {
    BINDLE_CONTAINER_LOCATION, BINDLE_CONTAINER_PATHS, BINDLE_USER, bindleLocalLocation, BindleRuntime, checkedBindleRuntime, containerPathOf,
} from "./bindle-task";

export const BINDLE_REPAIR_TASK = "bindle-repair";
/** Where the template renders the script, relative to the task working directory. */
export const BINDLE_REPAIR_SCRIPT_PATH = "local/bindle-repair.sh";
/** The script as rendered into the task (no `{{`: Nomad's template engine passes it through verbatim). */
export const BINDLE_REPAIR_SCRIPT = readFileSync(path.join(__dirname, "bindle-repair.sh"), "utf8");
if (BINDLE_REPAIR_SCRIPT.includes("{{") || BINDLE_REPAIR_SCRIPT.includes("}}")) {
    throw new Error("bindle-repair.sh must not contain {{ or }}: Nomad renders it as a template");
}
/** `/bin/sh` exists at this path on the Linux and macOS hosts and in the exec driver's chroot (exec.mdx chroot_env). */
export const BINDLE_REPAIR_SHELL = "/bin/sh";
/** The operator's way to run the repair on a running server (Nomad 1.6+ `job restart`). */
export const BINDLE_REPAIR_COMMAND = "nomad job restart -all-tasks -yes bindle";

/** Task lifecycle (not yet in nomad-api.ts). */
export type { NomadTaskLifecycle };
export interface BindleRepairTask extends NomadTask { readonly Lifecycle: NomadTaskLifecycle }

/** The task for the server's runtime; its store argument is the server's `--directory`. */
export function bindleRepairTask(runtime: BindleRuntime): BindleRepairTask {
    const checked = checkedBindleRuntime(runtime);
    const script: NomadTemplate = { EmbeddedTmpl: BINDLE_REPAIR_SCRIPT, DestPath: BINDLE_REPAIR_SCRIPT_PATH, ChangeMode: "noop", Perms: "0444" };
    const config = (store: string) => ({ command: BINDLE_REPAIR_SHELL, args: [containerPathOf(BINDLE_REPAIR_SCRIPT_PATH), store] });
    const common = {
        Name: BINDLE_REPAIR_TASK,
        Lifecycle: { Hook: "prestart", Sidecar: false } as const,
        Templates: [script],
        Resources: { CPU: 50, MemoryMB: 32 },
    };
    switch (checked.driver) {
        case "exec":
            // The server's user and volume: the store's files are the `bindle` user's (bindle-task.ts).
            return {
                ...common, Driver: "exec", User: BINDLE_USER.name, Config: config(BINDLE_CONTAINER_LOCATION.directory),
                VolumeMounts: [{ Volume: BINDLE_HOST_VOLUME.name, Destination: BINDLE_CONTAINER_PATHS.data, ReadOnly: false }],
            };
        case "raw_exec":
            return { ...common, Driver: "raw_exec", Config: config(bindleLocalLocation(checked).directory) };
        default:
            return assertNever(checked, "runtime.driver");
    }
}
