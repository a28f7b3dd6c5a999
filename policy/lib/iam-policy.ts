/**
 * Reading IAM policy documents for the store policies: statements normalized (IAM lets `Action`,
 * `Resource` and friends be a string or a list), which of them grant DynamoDB actions, and the
 * table an ARN names. Semantics from the IAM JSON policy reference (docs.aws.amazon.com/IAM/
 * latest/UserGuide/reference_policies_elements_*.html): action names and service prefixes are
 * case-insensitive, `*` and `?` are wildcards in actions and resources, `NotAction`/`NotResource`
 * with `Allow` grant everything not listed. Pure.
 */
import { asArray, asRecord, asString, Props } from "./props";

/** The placeholder `@pulumi/policy` (proxy.js `unknownStringValue`) sees for a string unknown during preview. */
export const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface PolicyStatement {
    /** `Sid`, else `#<index>`: how messages name the statement. */
    readonly label: string;
    readonly allow: boolean;
    readonly actions: string[];
    /** `NotAction`: grants every action except `actions`. */
    readonly notAction: boolean;
    readonly resources: string[];
    /** `NotResource`: applies to every resource except `resources`. */
    readonly notResource: boolean;
}

const strings = (value: unknown): string[] => (typeof value === "string" ? [value] : asArray(value).filter((v): v is string => typeof v === "string"));

/** The statements of a policy document given as JSON text or as an object; undefined when it is neither. */
export function policyStatements(document: unknown): PolicyStatement[] | undefined {
    let doc: unknown = document;
    if (typeof document === "string") {
        try {
            doc = JSON.parse(document);
        } catch {
            return undefined;
        }
    }
    const record = asRecord(doc);
    if (record === undefined) {
        return undefined;
    }
    const list = Array.isArray(record.Statement) ? record.Statement : [record.Statement];
    return list.map(asRecord).filter((s): s is Props => s !== undefined).map((s, i) => ({
        label: asString(s.Sid) ?? `#${i}`,
        allow: s.Effect === "Allow",
        actions: strings(s.Action ?? s.NotAction),
        notAction: s.Action === undefined && s.NotAction !== undefined,
        resources: strings(s.Resource ?? s.NotResource),
        notResource: s.Resource === undefined && s.NotResource !== undefined,
    }));
}

/** `pattern` (IAM wildcards `*`, `?`) matches `text`, ignoring case. */
export function iamWildcardMatch(pattern: string, text: string): boolean {
    const re = pattern.split("").map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&"))).join("");
    return new RegExp(`^${re}$`, "i").test(text);
}

/** The action (or pattern) can name an action of `service` (its IAM prefix): `*`, `s3:*`, `s3:Get*`, `s*:PutObject`, ... */
export function isServiceAction(action: string, service: string): boolean {
    const [prefix, name] = action.includes(":") ? action.split(":", 2) : [action, "*"];
    return iamWildcardMatch(prefix, service) && name !== "";
}

/** `*` or `<service>:*` (any case): every action of `service`. */
export function isEveryServiceAction(action: string, service: string): boolean {
    return action === "*" || action.toLowerCase() === `${service}:*`;
}

/** An Allow statement that grants at least one action of `service` (NotAction: unless it lists `<service>:*`). */
export function grantsService(s: PolicyStatement, service: string): boolean {
    if (!s.allow) {
        return false;
    }
    return s.notAction ? !s.actions.some((a) => isEveryServiceAction(a, service)) : s.actions.some((a) => isServiceAction(a, service));
}

/** The action (or pattern) can name a DynamoDB action: `*`, `dynamodb:*`, `dynamodb:Get*`, `dynamo*:PutItem`, ... */
export const isDynamoAction = (action: string): boolean => isServiceAction(action, "dynamodb");

/** `*` or `dynamodb:*`: every DynamoDB action. */
export const isEveryDynamoAction = (action: string): boolean => isEveryServiceAction(action, "dynamodb");

/** An Allow statement that grants at least one DynamoDB action (NotAction: unless it lists `dynamodb:*`). */
export const grantsDynamo = (s: PolicyStatement): boolean => grantsService(s, "dynamodb");

export const hasWildcard = (resource: string): boolean => /[*?]/.test(resource);

/**
 * The table an ARN names: `arn:<partition>:dynamodb:<region>:<account>:table/<name>`, or one of
 * its indexes, streams, exports or backups (`table/<name>/index/...`).
 */
export function tableOfArn(arn: string): string | undefined {
    const m = /^arn:aws[a-z-]*:dynamodb:[^:]*:[^:]*:table\/([A-Za-z0-9_.-]+)(\/.*)?$/.exec(arn);
    return m ? m[1] : undefined;
}

/**
 * The resource pattern reaches every S3 bucket, whatever its name: `*`, `arn:aws:s3:::*`,
 * `arn:aws:s3:::*` + `/*`, `arn:*:s3:::*`, `arn:aws:s3:*`, or any S3 ARN whose bucket part is only `*`
 * (`arn:aws:s3:::*` + `/logs/*`). Tested the way IAM matches it, against a bucket (and an object) of a
 * name no naming scheme of ours would give (S3 names are 3 to 63 characters), in the pattern's own
 * partition; a pattern anchored on a name (`arn:aws:s3:::spin-cloud-*`) passes.
 */
export function namesEveryBucket(resource: string): boolean {
    const partition = /^arn:([a-z-]+):/.exec(resource)?.[1] ?? "aws";
    const bucketPart = /^arn:[^:]*:([^:]*):::([^/]*)/.exec(resource);
    return [`arn:${partition}:s3:::000`, `arn:${partition}:s3:::000/0`].some((probe) => iamWildcardMatch(resource, probe))
        || (bucketPart !== null && iamWildcardMatch(bucketPart[1], "s3") && /^\*+$/.test(bucketPart[2]));
}
