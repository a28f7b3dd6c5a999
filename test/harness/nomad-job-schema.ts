/**
 * Validation of Nomad jobs against `components.schemas.Job` of Nomad's OpenAPI document
 * (`test/schemas/nomad-openapi-v1.yaml`), with every object schema closed so a key Nomad
 * does not know fails. OpenAPI's `format` values (int64, double, …) are not JSON Schema formats
 * ajv knows, and are dropped; `$ref`s are re-pointed; everything else is plain JSON Schema.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ValidateFunction } from "ajv";
import { SCHEMAS, closeObjects, compileStrict, describeErrors } from "./schemas";

const OPENAPI_REF = "#/components/schemas/";

/** OpenAPI → JSON Schema: drop `format`, point `$ref`s at `definitions`. */
function toJsonSchema(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(toJsonSchema);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value)
            .filter(([key, v]) => !(key === "format" && typeof v === "string"))
            .map(([key, v]) => {
                if (key === "$ref" && typeof v === "string" && v.startsWith(OPENAPI_REF)) {
                    return [key, `#/definitions/${v.slice(OPENAPI_REF.length)}`];
                }
                return [key, key === "properties"
                    ? Object.fromEntries(Object.entries(v as object).map(([k, p]) => [k, toJsonSchema(p)]))
                    : toJsonSchema(v)];
            }));
    }
    return value;
}

let cached: ValidateFunction | undefined;

/** The strict, closed validator of a Nomad job (the object under `Job` in `PUT /v1/jobs`). */
export function nomadJobValidator(): ValidateFunction {
    if (!cached) {
        const document = YAML.parse(fs.readFileSync(path.join(SCHEMAS, "nomad-openapi-v1.yaml"), "utf8"));
        const definitions = closeObjects(toJsonSchema(document.components.schemas)) as Record<string, object>;
        cached = compileStrict({ definitions, $ref: "#/definitions/Job" });
    }
    return cached;
}

/** Throws with every schema error when `job` is not a valid Nomad job. */
export function assertValidNomadJob(job: unknown, what: string): void {
    const validate = nomadJobValidator();
    if (!validate(job)) {
        throw new Error(`${what} is not a valid Nomad job:\n${describeErrors(validate)}`);
    }
}
