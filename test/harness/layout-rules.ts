/**
 * The import rules the folders express (components/README.md, provisioning/README.md): targets
 * may use the shared parts, the shared parts never import a target, one target never imports
 * another, and provisioning/ never imports components/. program.ts and index.ts compose
 * everything and are exempt.
 */
import { readFileSync, readdirSync, statSync } from "fs";
import * as path from "path";

export const TARGETS = ["aws", "local"] as const;
const COMPOSITION_ROOTS = new Set(["components/program.ts", "components/index.ts"]);

export interface ImportEdge { readonly from: string; readonly to: string }

/** The target a repository path belongs to (`components/aws/x.ts` → aws), or undefined if shared. */
export function targetOf(file: string): string | undefined {
    const [top, folder] = file.split("/");
    if (top !== "components" && top !== "provisioning") return undefined;
    return (TARGETS as readonly string[]).includes(folder) ? folder : undefined;
}

/** Every rule an edge breaks, as a sentence; [] when it keeps them all. */
export function layoutViolations(edges: readonly ImportEdge[]): string[] {
    const out: string[] = [];
    for (const { from, to } of edges) {
        if (COMPOSITION_ROOTS.has(from)) continue;
        if (from.startsWith("provisioning/") && to.startsWith("components/")) {
            out.push(`${from} imports ${to}: provisioning/ never imports components/`);
        }
        const source = targetOf(from);
        const target = targetOf(to);
        if (target !== undefined && source === undefined && (from.startsWith("components/") || from.startsWith("provisioning/"))) {
            out.push(`${from} imports ${to}: a shared part never imports the ${target} target`);
        }
        if (target !== undefined && source !== undefined && target !== source) {
            out.push(`${from} imports ${to}: the ${source} target never imports the ${target} target`);
        }
    }
    return out;
}

function tsFiles(root: string, dir: string): string[] {
    return readdirSync(path.join(root, dir)).flatMap((name) => {
        const rel = `${dir}/${name}`;
        if (statSync(path.join(root, rel)).isDirectory()) return tsFiles(root, rel);
        return rel.endsWith(".ts") ? [rel] : [];
    });
}

const SPECIFIER = /(?:from|import|require\()\s*["'](\.{1,2}\/[^"']*)["']/g;

/** The relative imports of every .ts file under components/ and provisioning/, resolved to files. */
export function importEdges(root: string): ImportEdge[] {
    const edges: ImportEdge[] = [];
    for (const from of [...tsFiles(root, "components"), ...tsFiles(root, "provisioning")]) {
        for (const match of readFileSync(path.join(root, from), "utf8").matchAll(SPECIFIER)) {
            const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), match[1]));
            const to = [`${base}.ts`, `${base}/index.ts`, base].find((c) => {
                try { return statSync(path.join(root, c)).isFile(); } catch { return false; }
            });
            if (to === undefined) throw new Error(`${from}: cannot resolve ${match[1]}`);
            edges.push({ from, to });
        }
    }
    return edges;
}
