/**
 * A stand-in `pulumi-resource-nomad` for `pulumi preview` when the real provider plugin is not on
 * PATH (pulumi-nomad 2.6.1 compiles BUSL Nomad code and is not built here; see the closing note
 * of issue 10).
 *
 * Why one is needed at all: the engine always includes provider resources in an operation
 * (pulumi/pulumi v3.248.0 pkg/resource/deploy/step_generator.go, `isImplicitlyTargetedResource`,
 * so `--exclude`/`--target` cannot leave the Nomad provider out), and the provider resource's Check
 * loads the plugin and calls its CheckConfig (pkg/resource/deploy/providers/registry.go,
 * `Registry.Check`). Without a plugin, preview stops there with "no resource plugin
 * 'pulumi-resource-nomad' found" and cancels every step after it.
 *
 * What it does: GetPluginInfo says `2.6.1-standin`; Check holds every `nomad:` resource's inputs
 * against the pulumi-nomad v2.6.1 schema in test/schemas (unknown input names and missing required
 * inputs are Check failures, so a typo in the binding fails preview as the real provider would
 * fail it); everything else is the SDK's provider server (CheckConfig unimplemented, which the
 * engine takes as "config accepted"; Configure without preview support, so a preview never calls
 * Create). It never talks to Nomad.
 *
 * Run by a shell wrapper that test/real/harness/pulumi-cli.ts writes into a temp bin dir.
 */
import * as fs from "fs";
import * as path from "path";
import { main } from "@pulumi/pulumi/provider";

interface ResourceSchema { inputProperties?: Record<string, unknown>; requiredInputs?: string[] }

const SCHEMA_FILE = path.resolve(__dirname, "..", "..", "schemas", "pulumi-nomad-v2.6.1.schema.json");
const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8")) as { resources: Record<string, ResourceSchema> };

/** The resource token of a URN: `urn:pulumi:<stack>::<project>::<parent$>type::name`. */
function resourceType(urn: string): string {
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop() ?? "";
}

/** Check failures of `inputs` against the schema of `type` (names and required inputs, top level). */
export function schemaFailures(type: string, inputs: Record<string, unknown>): { property: string; reason: string }[] {
    const resource = schema.resources[type];
    if (resource === undefined) return [{ property: "", reason: `pulumi-nomad v2.6.1 has no resource type ${type}` }];
    const known = Object.keys(resource.inputProperties ?? {});
    const failures = Object.keys(inputs)
        .filter((name) => !name.startsWith("__") && !known.includes(name))
        .map((name) => ({ property: name, reason: `${type} has no input ${name} in pulumi-nomad v2.6.1 (inputs: ${known.join(", ")})` }));
    for (const name of resource.requiredInputs ?? []) {
        if (inputs[name] === undefined) failures.push({ property: name, reason: `${type} requires ${name}` });
    }
    return failures;
}

if (require.main === module) {
    void main({
        version: "2.6.1-standin",
        check: async (urn, _olds, news) => ({ inputs: news, failures: schemaFailures(resourceType(urn), news) }),
    }, process.argv.slice(2));
}
