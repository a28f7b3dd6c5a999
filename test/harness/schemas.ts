/**
 * Loading the reference schemas of `test/schemas/` (copied from upstream, provenance in its
 * README) and compiling them with ajv in strict
 * mode. `closeObjects` makes every object schema that lists its properties reject any other key,
 * so a misspelt key fails instead of passing silently.
 */
import * as fs from "fs";
import * as path from "path";
import Ajv, { ValidateFunction } from "ajv";
import { ROOT } from "./stack-config";

export const SCHEMAS = path.resolve(ROOT, "test", "schemas");

export function readSchema(file: string): any {
    return JSON.parse(fs.readFileSync(path.join(SCHEMAS, file), "utf8"));
}

/** Deep copy of `schema` where each object schema with `properties` and no `additionalProperties` is closed. */
export function closeObjects<T>(schema: T): T {
    if (Array.isArray(schema)) {
        return schema.map(closeObjects) as T;
    }
    if (typeof schema !== "object" || schema === null) {
        return schema;
    }
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema)) {
        // Property names are data, not schemas: recurse into their values only.
        copy[key] = key === "properties" || key === "$defs" || key === "definitions"
            ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, closeObjects(v)]))
            : closeObjects(value);
    }
    if ("properties" in copy && !("additionalProperties" in copy) && !("patternProperties" in copy)) {
        copy.additionalProperties = false;
    }
    return copy as T;
}

/** Compiles with ajv in strict mode; `errors` of the returned function name the failing path. */
export function compileStrict(schema: object): ValidateFunction {
    const ajv = new Ajv({ strict: true, allErrors: true, validateFormats: false });
    return ajv.compile(schema);
}

export function describeErrors(validate: ValidateFunction): string {
    return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("\n");
}
