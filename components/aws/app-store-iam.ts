/**
 * The names, tags and IAM policy of apps' DynamoDB stores (AwsAppStores registers them), and the
 * AWS limits they must fit, checked from names alone so the program can check them before it
 * builds the cloud. Pure.
 */
import * as crypto from "crypto";
import type { SharingApp } from "../apps/store-sharing";

/** What Spin's DynamoDB store calls (spinframework/spin v3.4.0 crates/key-value-aws/src/store.rs); TransactWriteItems is authorized per item action (UpdateItem). */
export const DYNAMO_ACTIONS = [
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
    "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem",
] as const;
/** What DynamoDB needs of a customer managed key on the caller's behalf (kms:ViaService). */
export const KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"] as const;
export const DYNAMO_TABLE_MAX = 255;
/** IAM user names: at most 64 characters. */
export const IAM_USER_MAX = 64;
/** IAM and DynamoDB tag values: at most 256 characters of letters, digits, spaces and `_.:/=+-@`. */
const TAG_VALUE_MAX = 256;
/** IAM's limit on a user's inline policies, all together, without whitespace (IAM and AWS STS quotas). */
export const IAM_USER_INLINE_POLICY_MAX = 2048;

/** The tags policy/policies/stores.ts reads: a table's or an IAM user's app; the stores of other apps a user shares; the apps a table is shared with. */
export const APP_TAG = "spin-cloud:app";
export const SHARES_TAG = "spin-cloud:shares";
export const SHARED_WITH_TAG = "spin-cloud:shared-with";
/** A table's store label. */
export const STORE_TAG = "spin-cloud:store";

/** `<max chars of text>` or, when longer, a prefix and 12 hex of its sha256: deterministic and unique. */
export function fitName(text: string, max: number): string {
    if (text.length <= max) return text;
    return `${text.slice(0, max - 13)}-${crypto.createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
}

/** `<cluster>-<app>-kv-<label>`: per app, so a label two apps use is two tables. */
export const dynamoTableName = (cluster: string, app: string, label: string): string => fitName(`${cluster}-${app}-kv-${label}`, DYNAMO_TABLE_MAX);
export const appStoreUserName = (cluster: string, app: string): string => fitName(`${cluster}-app-${app}`, IAM_USER_MAX);
/** Resource name of the app's access key: generation 1 keeps the name it always had, each later one is a new resource. */
export const appAccessKeyResourceName = (app: string, generation: number): string => (generation === 1 ? `${app}-stores` : `${app}-stores-key-${generation}`);

export interface PolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: readonly { Sid: string; Effect: "Allow"; Action: string[]; Resource: string[]; Condition?: Record<string, Record<string, string>> }[];
}

/** The app's whole permission: its tables (own and shared), and the key only as DynamoDB uses it in `region`. */
export function appStoresPolicy(tableArns: readonly string[], kmsKeyArn: string, region: string): PolicyDocument {
    if (tableArns.length === 0) throw new Error("app stores policy: no tables");
    if (tableArns.some((a) => a.includes("*"))) throw new Error(`app stores policy: table ARNs must not hold wildcards (${tableArns.join(", ")})`);
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "AppTables", Effect: "Allow", Action: [...DYNAMO_ACTIONS], Resource: [...tableArns].sort() },
            { Sid: "AppDataKeyThroughDynamoDB", Effect: "Allow", Action: [...KMS_ACTIONS], Resource: [kmsKeyArn], Condition: { StringEquals: { "kms:ViaService": `dynamodb.${region}.amazonaws.com` } } },
        ],
    };
}

/**
 * The longest the app's policy can be once its tables' ARNs are known: the names are, so only the
 * partition (at most `aws-us-gov`), the 12-digit account and the key's id are filled in at their longest.
 */
export function appStoresPolicyMaxLength(tableNames: readonly string[], region: string): number {
    const arn = (service: string, resource: string) => `arn:aws-us-gov:${service}:${region}:000000000000:${resource}`;
    return JSON.stringify(appStoresPolicy(tableNames.map((n) => arn("dynamodb", `table/${n}`)), arn("kms", "key/00000000-0000-0000-0000-000000000000"), region)).length;
}

/** One key-value store of an app, as IAM sees it: its label, the owner it is shared from, the apps its owner shares it with. */
export interface KeyValueStoreRef {
    readonly label: string;
    readonly sharedFrom?: string;
    readonly shareWith?: readonly string[];
}

/** The app's DynamoDB side, checked against AWS's limits. */
export interface AppStoreIam {
    /** The user's `spin-cloud:shares`: `<owner>/<label>` of each shared store, sorted, space-separated; undefined when none. */
    readonly sharesTag?: string;
    /** Each own table's `spin-cloud:shared-with`, by label: the apps it is shared with, sorted, space-separated. */
    readonly sharedWithTags: Readonly<Record<string, string>>;
}

function tagValue(app: string, field: string, tag: string, parts: readonly string[]): string {
    const value = [...parts].sort().join(" ");
    if (value.length > TAG_VALUE_MAX) {
        throw new Error(`SpinApp ${app}: ${field} makes the tag ${tag} ${value.length} characters (${parts.length} entries); AWS holds a tag value to ${TAG_VALUE_MAX}: share fewer stores, or with fewer apps`);
    }
    return value;
}

/** Table names, tags and the policy's bound of `app`'s key-value stores; throws, naming the app and the limit, when AWS would refuse them. */
export function appStoreIam(cluster: string, region: string, app: string, keyValue: readonly KeyValueStoreRef[]): AppStoreIam {
    const tables = [...keyValue.filter((s) => s.sharedFrom === undefined), ...keyValue.filter((s) => s.sharedFrom !== undefined)]
        .map((s) => dynamoTableName(cluster, s.sharedFrom ?? app, s.label));
    const length = tables.length > 0 ? appStoresPolicyMaxLength(tables, region) : 0;
    if (length > IAM_USER_INLINE_POLICY_MAX) {
        throw new Error(`SpinApp ${app}: stores.keyValue has ${tables.length} DynamoDB stores (its own and shared); its IAM user's policy, which names each table, `
            + `would take up to ${length} characters, over IAM's ${IAM_USER_INLINE_POLICY_MAX} for a user's inline policies: use fewer key-value stores (one store holds any number of keys)`);
    }
    const shared = keyValue.filter((s) => s.sharedFrom !== undefined).map((s) => `${s.sharedFrom}/${s.label}`);
    return {
        ...(shared.length > 0 ? { sharesTag: tagValue(app, "stores.keyValue's sharedFrom", SHARES_TAG, shared) } : {}),
        sharedWithTags: Object.fromEntries(keyValue.filter((s) => s.sharedFrom === undefined && (s.shareWith ?? []).length > 0)
            .map((s) => [s.label, tagValue(app, `stores.keyValue.${s.label}.shareWith`, SHARED_WITH_TAG, s.shareWith!)])),
    };
}

/**
 * `appStoreIam` for every declared app, before the program builds the cloud (AwsAppStores checks
 * each app again as it is constructed): the labels its manifest declares, with its `stores` options.
 */
export function checkAppStoreIam(cluster: string, region: string, apps: readonly SharingApp[]): void {
    for (const app of apps) {
        appStoreIam(cluster, region, app.name, app.declared.keyValue.map((label) => {
            const o = (app.stores?.keyValue?.[label] ?? {}) as { sharedFrom?: string; shareWith?: readonly string[] };
            return { label, ...(o.sharedFrom !== undefined ? { sharedFrom: o.sharedFrom } : {}), ...(o.shareWith !== undefined ? { shareWith: o.shareWith } : {}) };
        }));
    }
}
