/**
 * Pulumi.yaml with its `config:` block as components/settings/project-config.ts renders it, every
 * other key and comment kept. `npm run render:project-config` writes it (the project-file test
 * says to run it when Pulumi.yaml and the settings tables differ).
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { projectConfig } from "../../components/settings/project-config";
import { ROOT } from "./stack-config";

export const PROJECT_FILE = path.join(ROOT, "Pulumi.yaml");

/** `text` (a Pulumi.yaml) with `config:` replaced by the rendered block. */
export function withRenderedConfig(text: string): string {
    const doc = YAML.parseDocument(text);
    doc.set("config", doc.createNode(projectConfig()));
    return doc.toString({ lineWidth: 100 });
}

if (require.main === module) {
    fs.writeFileSync(PROJECT_FILE, withRenderedConfig(fs.readFileSync(PROJECT_FILE, "utf8")));
    console.log(`wrote the config: block of ${path.relative(process.cwd(), PROJECT_FILE)} from components/settings`);
}
