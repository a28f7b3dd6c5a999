/**
 * Apps' stores on AWS (components/aws/app-stores.ts): every DynamoDB table encrypted with a
 * customer managed key, point-in-time recovery on, deletion protection in production; and every
 * IAM grant of DynamoDB actions naming tables, only the tables of the identity's own app. An app
 * is what the tag `spin-cloud:app` says: app-stores.ts puts it on each table (with
 * `spin-cloud:store`) and on the app's IAM user. A store shared between apps is marked on both
 * sides (components/aws/app-store-iam.ts): the sharer's user carries `spin-cloud:shares` =
 * `<owner>/<label> ...` and the owner's table `spin-cloud:shared-with` = `<app> ...`; another
 * app's table is reachable only where both say so.
 */
import { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { grantsDynamo, hasWildcard, isEveryDynamoAction, policyStatements, PolicyStatement, tableOfArn, UNKNOWN_STRING } from "../lib/iam-policy";
import { asArray, asRecord, asString, describeResource, isTrue, peek, Props, stackOfUrn, tagsOf } from "../lib/props";
import { referencedBy } from "../lib/stack";
import { configSchema, tunables } from "./config";

export const TABLE_TYPE = "aws:dynamodb/table:Table";
const TABLE_RESOURCE_POLICY = "aws:dynamodb/resourcePolicy:ResourcePolicy";
/** The tag naming the app a table or an IAM identity belongs to. */
export const APP_TAG = "spin-cloud:app";
/** The tags naming a table's store label, and the `<owner>/<label>` stores of other apps an identity shares. */
export const STORE_TAG = "spin-cloud:store";
export const SHARES_TAG = "spin-cloud:shares";
export const SHARED_WITH_TAG = "spin-cloud:shared-with";
const USER = "aws:iam/user:User";
export const ROLE = "aws:iam/role:Role";
const GROUP = "aws:iam/group:Group";
const POLICY = "aws:iam/policy:Policy";

/** Inline policies: the document's property and the property naming the identity it belongs to. */
const INLINE: Record<string, { principal: string; principalType: string }> = {
    "aws:iam/userPolicy:UserPolicy": { principal: "user", principalType: USER },
    "aws:iam/rolePolicy:RolePolicy": { principal: "role", principalType: ROLE },
    "aws:iam/groupPolicy:GroupPolicy": { principal: "group", principalType: GROUP },
};
/** Attachments of a managed policy (`policyArn`) to identities. */
export const ATTACHMENTS: Record<string, readonly [string, string][]> = {
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": [["user", USER]],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": [["role", ROLE]],
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": [["group", GROUP]],
    "aws:iam/policyAttachment:PolicyAttachment": [["users", USER], ["roles", ROLE], ["groups", GROUP]],
};
/** AWS managed policies that grant DynamoDB actions on every table. */
const BROAD_MANAGED = /^arn:aws[a-z-]*:iam::aws:policy\/(AmazonDynamoDB[A-Za-z]*|AdministratorAccess|PowerUserAccess|ReadOnlyAccess)$/;
/** The resources whose IAM documents grant permissions (the S3 policies read the same ones). */
export const GRANT_TYPES = [...Object.keys(INLINE), POLICY, ROLE];

export function only(args: ResourceValidationArgs, types: readonly string[]): void {
    if (!types.includes(args.type)) {
        args.notApplicable(`Policy only applies to ${types.join(", ")}`);
    }
}

export const dynamodbCustomerKey: ResourceValidationPolicy = {
    name: "dynamodb-table-customer-key",
    description: "DynamoDB tables are encrypted with a customer managed KMS key (serverSideEncryption.enabled with a kmsKeyArn).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [TABLE_TYPE]);
        const sse = asRecord(args.props.serverSideEncryption);
        // The key's ARN comes from the KMS key resource: unknown during preview, set all the same.
        const key = sse === undefined ? undefined : peek(sse, "kmsKeyArn");
        const fix = "Set serverSideEncryption: { enabled: true, kmsKeyArn } with a customer managed key (AwsAppStores uses the cloud's app-data key).";
        if (!isTrue(sse?.enabled) || typeof key !== "string" || key.trim() === "") {
            report(`DynamoDB table '${args.name}' is encrypted with ${isTrue(sse?.enabled) ? "the AWS managed key (no kmsKeyArn)" : "an AWS owned key (serverSideEncryption.enabled is not true)"}, which no key policy of ours controls. ${fix}`);
        } else if (/:alias\/aws\/dynamodb$|^alias\/aws\/dynamodb$/.test(key)) {
            report(`DynamoDB table '${args.name}' names the AWS managed key alias/aws/dynamodb. ${fix}`);
        }
    },
};

export const dynamodbPointInTimeRecovery: ResourceValidationPolicy = {
    name: "dynamodb-point-in-time-recovery-enabled",
    description: "DynamoDB tables have point-in-time recovery on (restore to any second of the last 35 days).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [TABLE_TYPE]);
        if (!isTrue(asRecord(args.props.pointInTimeRecovery)?.enabled)) {
            report(`DynamoDB table '${args.name}' has point-in-time recovery off, so a bad write or delete cannot be undone. Set pointInTimeRecovery: { enabled: true }.`);
        }
    },
};

export const dynamodbDeletionProtection: ResourceValidationPolicy = {
    name: "dynamodb-deletion-protection-enabled",
    description: "In production stacks, DynamoDB tables have deletion protection on.",
    enforcementLevel: "mandatory",
    configSchema: configSchema("productionStacks"),
    validateResource: (args, report) => {
        only(args, [TABLE_TYPE]);
        const { productionStacks } = tunables(args.getConfig, "productionStacks");
        const stack = stackOfUrn(args.urn) ?? "";
        if (!productionStacks.includes(stack)) {
            return args.notApplicable(`stack '${stack}' is not a production stack`);
        }
        if (!isTrue(args.props.deletionProtectionEnabled)) {
            report(`DynamoDB table '${args.name}' in production stack '${stack}' can be deleted by one call. Set ` +
                `deletionProtectionEnabled: true (a store's deletionProtection; to delete a store on purpose, turn it off ` +
                `and set this policy advisory for that update with --policy-pack-config).`);
        }
    },
};

/** The policy documents of a grant-bearing resource: `policy`, or a role's `inlinePolicies[].policy`. */
export function documents(type: string, props: Props, read: (p: Props, key: string) => unknown): { where: string; doc: unknown }[] {
    if (type === ROLE) {
        return asArray(read(props, "inlinePolicies")).map((p, i) => ({ where: `inlinePolicies[${i}]`, doc: asRecord(p)?.policy }));
    }
    return GRANT_TYPES.includes(type) ? [{ where: "policy", doc: read(props, "policy") }] : [];
}

export const described = (s: PolicyStatement) => `${s.notAction ? "every action but " : ""}${s.actions.join(", ")}`;

export const dynamodbAccessNamesTables: ResourceValidationPolicy = {
    name: "dynamodb-access-names-tables",
    description: "IAM grants of DynamoDB actions name tables: no `*` (or other wildcard) resource, no NotResource, never dynamodb:* on *, no broad AWS managed policy.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        only(args, [...GRANT_TYPES, ...Object.keys(ATTACHMENTS)]);
        const what = describeResource(args.name, args.type);
        if (ATTACHMENTS[args.type] !== undefined) {
            const arn = asString(peek(args.props, "policyArn")) ?? "";
            if (BROAD_MANAGED.test(arn)) {
                report(`${what} attaches ${arn}, which grants DynamoDB actions on every table of the account. Attach a policy naming the app's own table ARNs.`);
            }
            return;
        }
        for (const arn of args.type === ROLE ? asArray(peek(args.props, "managedPolicyArns")).filter((a): a is string => typeof a === "string" && BROAD_MANAGED.test(a)) : []) {
            report(`${what} lists ${arn} in managedPolicyArns, which grants DynamoDB actions on every table of the account. Attach a policy naming the app's own table ARNs.`);
        }
        const fix = "Name each table ARN of the identity's own app (arn:aws:dynamodb:<region>:<account>:table/<name>).";
        // A document unknown during preview (it waits for the tables' ARNs) is read again when `pulumi up`
        // registers the resource, before it is created; no-cross-app-store-access reads the graph meanwhile.
        const read = (p: Props, k: string) => (peek(p, k) === UNKNOWN_STRING ? UNKNOWN_STRING : p[k]);
        for (const { where, doc } of documents(args.type, args.props, read).filter((d) => d.doc !== UNKNOWN_STRING)) {
            for (const s of (policyStatements(doc) ?? []).filter(grantsDynamo)) {
                const at = `${where} statement ${s.label}`;
                if (s.notResource) {
                    report(`${what} ${at} grants ${described(s)} on every resource but ${s.resources.join(", ")} (NotResource). ${fix}`);
                    continue;
                }
                for (const r of s.resources.filter(hasWildcard)) {
                    const every = r === "*" && !s.notAction && s.actions.some(isEveryDynamoAction);
                    report(`${what} ${at} grants ${every ? "dynamodb:* on *: every DynamoDB action on every table of the account" : `${described(s)} on ${r}, a wildcard that reaches other apps' tables`}. ${fix}`);
                }
            }
        }
    },
};

/** The resources a reference input points at: the dependency graph, else the value compared with their name, id or ARN. */
const referenced = (r: PolicyResource, prop: string, all: readonly PolicyResource[], type: string): PolicyResource[] =>
    referencedBy(r, prop, all, [type], ["name", "id", "arn"]);

interface Principal { readonly label: string; readonly app?: string; readonly shares: readonly string[] }

const principal = (p: PolicyResource): Principal => {
    const tags = tagsOf(p.props);
    return { label: describeResource(p.name, p.type), app: tags[APP_TAG] || undefined, shares: (tags[SHARES_TAG] ?? "").split(" ").filter((x) => x !== "") };
};

/** Who a grant-bearing resource gives its permissions to. */
function principalsOf(r: PolicyResource, all: readonly PolicyResource[]): Principal[] {
    const inline = INLINE[r.type];
    if (inline !== undefined) {
        const found = referenced(r, inline.principal, all, inline.principalType);
        return found.length > 0 ? found.map(principal) : [{ label: `${inline.principal} ${JSON.stringify(peek(r.props, inline.principal))} (not in this stack)`, shares: [] }];
    }
    if (r.type === ROLE) {
        return [principal(r)];
    }
    // A managed policy: the identities its attachments name.
    const attachments = all.filter((a) => ATTACHMENTS[a.type] !== undefined && referenced(a, "policyArn", all, POLICY).some((x) => x.urn === r.urn));
    const found = attachments.flatMap((a) => ATTACHMENTS[a.type].flatMap(([prop, type]) => referenced(a, prop, all, type)));
    return found.length > 0 ? found.map(principal) : [{ label: "no identity of this stack (no attachment)", shares: [] }];
}

export const noCrossAppStoreAccess: StackValidationPolicy = {
    name: "no-cross-app-store-access",
    description: "An IAM identity reaches only its own app's DynamoDB tables (tag spin-cloud:app) and the stores shared with it (its tag spin-cloud:shares names <owner>/<label>, the table's spin-cloud:shared-with names its app); an identity of no app reaches no app's table; an app's table has no resource policy.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const tables = args.resources.filter((r) => r.type === TABLE_TYPE);
        const ownerOf = (t: PolicyResource) => tagsOf(t.props)[APP_TAG] || undefined;
        const storeOf = (t: PolicyResource) => `${ownerOf(t)}/${tagsOf(t.props)[STORE_TAG] ?? ""}`;
        const sharedWith = (t: PolicyResource) => (tagsOf(t.props)[SHARED_WITH_TAG] ?? "").split(" ").filter((x) => x !== "");
        const tableNamed = (arn: string) => {
            const name = tableOfArn(arn);
            return tables.find((t) => (name !== undefined && peek(t.props, "name") === name) || peek(t.props, "arn") === arn);
        };
        // A table's own resource policy grants whatever principals it names, around the app's IAM user.
        for (const r of args.resources.filter((x) => x.type === TABLE_RESOURCE_POLICY)) {
            // By the graph or the ARN, and by the table an index's or a stream's ARN belongs to.
            const arnTable = tableOfArn(asString(peek(r.props, "resourceArn")) ?? "");
            const targets = [...referenced(r, "resourceArn", args.resources, TABLE_TYPE), ...tables.filter((t) => arnTable !== undefined && peek(t.props, "name") === arnTable)];
            for (const t of [...new Set(targets)].filter((x) => ownerOf(x) !== undefined)) {
                report(`${describeResource(r.name, r.type)} attaches a resource policy to '${t.name}', a table of app '${ownerOf(t)}': it grants the principals it names `
                    + "beside the app's IAM user, which no check here sees. Grant through the app's user (AwsAppStores; share with shareWith/sharedFrom) and remove it.", r.urn);
            }
        }
        for (const r of args.resources.filter((x) => GRANT_TYPES.includes(x.type))) {
            const what = describeResource(r.name, r.type);
            const docs = documents(r.type, r.props, peek);
            if (docs.length === 0) {
                continue;
            }
            // [table name or ARN, the stack's table or undefined] for every table a grant names.
            const named: [string, PolicyResource | undefined][] = [];
            for (const { doc } of docs) {
                if (doc === UNKNOWN_STRING) {
                    // Preview: the document waits for the tables' ARNs; the graph says which tables it came from.
                    named.push(...(r.propertyDependencies.policy ?? []).filter((d) => d.type === TABLE_TYPE).map((t): [string, PolicyResource] => [t.name, t]));
                    continue;
                }
                for (const s of (policyStatements(doc) ?? []).filter((x) => grantsDynamo(x) && !x.notResource)) {
                    // Wildcards are dynamodb-access-names-tables'; ARNs of other services (a KMS key) name no table.
                    named.push(...s.resources.filter((a) => !hasWildcard(a) && (tableOfArn(a) !== undefined || tableNamed(a) !== undefined)).map((a): [string, PolicyResource | undefined] => [a, tableNamed(a)]));
                }
            }
            if (named.length === 0) {
                continue;
            }
            for (const p of principalsOf(r, args.resources)) {
                for (const [arn, table] of named) {
                    const owner = table === undefined ? undefined : ownerOf(table);
                    const claims = table !== undefined && owner !== undefined && p.shares.includes(storeOf(table));
                    const consents = table !== undefined && p.app !== undefined && sharedWith(table).includes(p.app);
                    if (p.app !== undefined && owner !== p.app && !(claims && consents)) {
                        const why = !claims ? `not in its ${SHARES_TAG} tag` : `whose ${SHARED_WITH_TAG} tag does not name '${p.app}'`;
                        const whose = owner !== undefined ? `a table of app '${owner}' (store '${storeOf(table!)}', ${why})` : `no table of app '${p.app}' in this stack`;
                        report(`${what} lets ${p.label} (app '${p.app}') reach ${arn}, ${whose}. An app's data is private to it: ` +
                            `name only the ARNs of tables tagged ${APP_TAG}=${p.app}, or share a store explicitly (the owner's stores.keyValue.<label>.shareWith and the sharer's sharedFrom).`, r.urn);
                    } else if (p.app === undefined && owner !== undefined) {
                        report(`${what} lets ${p.label}, which is no app's identity (no ${APP_TAG} tag), reach ${arn}, a table of app '${owner}'. ` +
                            "Only the app's own IAM user (AwsAppStores) may reach its tables.", r.urn);
                    }
                }
            }
        }
    },
};
