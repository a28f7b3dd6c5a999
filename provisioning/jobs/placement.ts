/**
 * Where the platform's and the apps' jobs may run: client-class nodes of the cluster's
 * architecture (reference/runtime-variable-interpolation.mdx: `${node.class}`, `${attr.cpu.arch}`).
 */
import { CLIENT_NODE_CLASS } from "../platform";
import { Architecture } from "../types";
import { debianArchitecture } from "../versions";
import { NomadConstraint } from "./nomad-api";

/** `${attr.cpu.arch}` (GOARCH) of a node of this architecture: the same names as Debian's. */
export function nomadCpuArch(architecture: Architecture): "arm64" | "amd64" {
    return debianArchitecture(architecture);
}

/** Client-class nodes of `architecture`. */
export function clientConstraints(architecture: Architecture): NomadConstraint[] {
    return [
        { LTarget: "${node.class}", RTarget: CLIENT_NODE_CLASS, Operand: "=" },
        { LTarget: "${attr.cpu.arch}", RTarget: nomadCpuArch(architecture), Operand: "=" },
    ];
}
