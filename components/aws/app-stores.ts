/**
 * Apps' stores on AWS. Key-value: one DynamoDB table per store (hash key `PK`, string, as
 * spinframework/spin v3.4.0 crates/key-value-aws/src/store.rs writes it), encrypted with the
 * cloud's app-data KMS key, point-in-time recovery on, deletion protection where the cloud asks
 * for it (prod), kept when removed unless the store opts in (`retainOnDelete: false`).
 * Credentials: one IAM user per app whose only policy names the app's own tables (and the key,
 * only through DynamoDB); its access key is a Pulumi secret, reaching the task as environment
 * through the app's store Variable (spin-runtime-config.ts), never the jobspec or the config file.
 * Rotation: `stores.accessKeyGeneration`; each generation is its own AccessKey resource, so the
 * new key exists before the job rolls onto it and the old one is deleted last (the engine deletes
 * resources that left the program after every other step, the job's deployment included).
 * Sharing (`sharedFrom`, store-sharing.ts): the sharer's policy names the owner's table beside its
 * own, and its user carries the tag `spin-cloud:shares` = `<owner>/<label> ...`, which is what the
 * policy pack lets it reach; a shared platform database is the owner's namespace, with a token for it.
 * SQLite: a database of the platform's libSQL server (LibsqlServer, built here with its backup
 * bucket when the cloud is given databases), or a server the user names (`url`, `token`); the
 * token goes the same way. Trade-offs and rotation: README "Data", docs/libsql.md.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AWS_KEY_ITEMS, libsqlTokenItem, SpinAppStores, spinAppStoreVariablePath } from "../../provisioning/jobs/spin-runtime-config";
import { libsqlBackupId, LibsqlDatabaseRef } from "../../provisioning/jobs/libsql-databases";
import { Architecture } from "../../provisioning/types";
import { AppStoreProvider, CheckedAppStores, isPlatformLibsql, KeyValueStoreArgs, OwnStore, ProvisionedAppStores, SqliteDatabaseArgs } from "../apps/stores";
import { Variable } from "../nomad";
import { LibsqlDatabase, LibsqlServer } from "../platform/libsql-server";
import { NomadAccess, nomadResourceOptions } from "../platform/nomad-access";
import { LibsqlBackups, LibsqlBackupWriter } from "./libsql-backups";
import { APP_TAG, appAccessKeyResourceName, appStoreIam, appStoresPolicy, appStoreUserName, dynamoTableName, SHARED_WITH_TAG, SHARES_TAG, STORE_TAG } from "./app-store-iam";

export interface AwsAppStoresArgs {
    readonly clusterName: string;
    readonly region: string;
    /** Default of every table's deletion protection (true in prod). */
    readonly deletionProtection: boolean;
    readonly tags?: Record<string, string>;
    /**
     * The platform libSQL server, built when `databases` is not empty (with its backup bucket and
     * writer): every app SQLite label it serves, known before the apps are declared.
     */
    readonly libsql?: {
        readonly databases: readonly LibsqlDatabaseRef[];
        readonly nomad: NomadAccess;
        readonly datacenter: string;
        readonly architecture: Architecture;
        /** LibsqlServerArgs.signingKeyGeneration (SpinCloud setting `libsqlSigningKeyGeneration`). */
        readonly signingKeyGeneration?: number;
    };
}

type Dynamo = Extract<OwnStore<KeyValueStoreArgs>, { backend?: "aws_dynamo" }>;
type Libsql = Extract<OwnStore<SqliteDatabaseArgs>, { backend?: "libsql" }>;

/**
 * The cloud's part: the app-data KMS key, the libSQL backup bucket it encrypts (on every cloud
 * given `libsql`, as SpinCloud does: the bucket must outlive the last database), and, with
 * databases, the platform libSQL server and its writer; each app's part is
 * registered under the app by `provision`.
 */
export class AwsAppStores extends pulumi.ComponentResource implements AppStoreProvider {
    readonly target = "aws" as const;
    private readonly args: AwsAppStoresArgs;
    private key?: pulumi.Output<string>;
    /** Table name → the store that claimed it: two stores are never one table. */
    private readonly tableOwners = new Map<string, string>();
    /** Table name → the table, for the apps that share it (their policies name its ARN). */
    private readonly tables = new Map<string, aws.dynamodb.Table>();

    /** The platform libSQL server; undefined when no app database uses it. */
    readonly libsql?: LibsqlServer;

    constructor(private readonly resourceName: string, args: AwsAppStoresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:stores:AwsAppStores", resourceName, {}, opts);
        this.args = args;
        const libsql = args.libsql;
        if (libsql !== undefined) {
            // The bucket whether or not a database exists yet: it must outlive the last one (libsql-backups.ts).
            const backups = new LibsqlBackups(`${resourceName}-libsql`, { kmsKeyArn: this.kmsKeyArn, tags: args.tags }, { parent: this });
            if (libsql.databases.length > 0) {
                const databaseId = libsqlBackupId(args.clusterName);
                const writer = new LibsqlBackupWriter(`${resourceName}-libsql-writer`, {
                    clusterName: args.clusterName, region: args.region, databaseId, bucketArn: backups.bucketArn, kmsKeyArn: this.kmsKeyArn, tags: args.tags,
                }, { parent: this });
                this.libsql = new LibsqlServer(`${resourceName}-libsql`, {
                    nomad: libsql.nomad, datacenter: libsql.datacenter, architecture: libsql.architecture, databases: libsql.databases,
                    backup: { bucket: backups.bucket, region: args.region, accessKeyId: writer.accessKeyId, secretAccessKey: writer.secretAccessKey },
                    backupId: databaseId, signingKeyGeneration: libsql.signingKeyGeneration,
                }, { parent: this });
            }
        }
        this.registerOutputs({});
    }

    /** The app's DynamoDB names and tags, within AWS's limits (app-store-iam.ts). */
    private iam(app: string, stores: CheckedAppStores) {
        return appStoreIam(this.args.clusterName, this.args.region, app, stores.keyValue.map(({ label, args, sharedFrom }) => ({
            label, ...(sharedFrom !== undefined ? { sharedFrom } : { shareWith: (args as { shareWith?: readonly string[] }).shareWith ?? [] }),
        })));
    }

    /** The platform server's access to one app database (refused when it does not serve it). */
    private platformDatabase(app: string, label: string) {
        if (this.libsql === undefined) {
            throw new Error(`SpinApp ${app} stores.sqlite.${label}: this cloud has no platform libSQL server (it is built only for the databases it is given); `
                + "declare the app in spinCloudProgram({ apps }) so its databases are known before the cloud is built, or give the store { url, token } of a libSQL server you run");
        }
        return this.libsql.database(app, label);
    }

    /** ARN of the key that encrypts every app's tables (created on first use). */
    get kmsKeyArn(): pulumi.Output<string> {
        if (this.key === undefined) {
            const name = this.resourceName;
            const key = new aws.kms.Key(`${name}-key`, {
                description: `spin-cloud ${this.args.clusterName}: encrypts apps' data (DynamoDB tables, libSQL backups)`,
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                tags: this.args.tags,
            // Kept on destroy: retained tables stay readable only while their key exists.
            }, { parent: this, retainOnDelete: true });
            new aws.kms.Alias(`${name}-key`, { name: `alias/${this.args.clusterName}-app-data`, targetKeyId: key.keyId }, { parent: this });
            this.key = key.arn;
        }
        return this.key;
    }

    backends(app: string, stores: CheckedAppStores): SpinAppStores {
        // `<cluster>-<app>-kv-<label>` is ambiguous when names hold "-kv-" (app "a" label "b-kv-c",
        // app "a-kv-b" label "c"): one table cannot be two apps' stores (each app's IAM policy would name it).
        for (const { label } of stores.keyValue.filter((s) => s.sharedFrom === undefined)) {
            const table = dynamoTableName(this.args.clusterName, app, label);
            const owner = `SpinApp ${app} stores.keyValue.${label}`;
            const other = this.tableOwners.get(table);
            if (other !== undefined && other !== owner) {
                throw new Error(`${owner}: DynamoDB table is ${JSON.stringify(table)}, already the table of ${other}; one table cannot back two stores (each app's stores are private to it unless shared with sharedFrom): rename the label or the app`);
            }
            this.tableOwners.set(table, owner);
        }
        this.iam(app, stores);
        return {
            keyValue: Object.fromEntries(stores.keyValue.map(({ label, args, sharedFrom }) => [label, {
                type: "aws_dynamo" as const,
                table: dynamoTableName(this.args.clusterName, sharedFrom ?? app, label),
                region: this.args.region,
                consistentRead: (args as Dynamo).consistentRead ?? true,
            }])),
            sqlite: Object.fromEntries(stores.sqlite.map(({ label, args, sharedFrom }) => [label, {
                type: "libsql" as const,
                url: isPlatformLibsql(args) ? this.platformDatabase(sharedFrom ?? app, label).url : (args as Libsql).url as string,
            }])),
        };
    }

    provision(app: string, jobId: string, stores: CheckedAppStores, nomad: NomadAccess, parent: pulumi.Resource): ProvisionedAppStores {
        const { clusterName, region, tags } = this.args;
        const items: Record<string, pulumi.Input<string>> = {};
        const waitFor: pulumi.Resource[] = [];
        if (stores.keyValue.length > 0) {
            const iam = this.iam(app, stores);
            const own = stores.keyValue.filter((s) => s.sharedFrom === undefined).map(({ label, args }) => {
                const name = dynamoTableName(clusterName, app, label);
                const table = new aws.dynamodb.Table(`${app}-kv-${label}`, {
                    name,
                    billingMode: "PAY_PER_REQUEST",
                    hashKey: "PK",
                    attributes: [{ name: "PK", type: "S" }],
                    serverSideEncryption: { enabled: true, kmsKeyArn: this.kmsKeyArn },
                    pointInTimeRecovery: { enabled: true },
                    deletionProtectionEnabled: (args as Dynamo).deletionProtection ?? this.args.deletionProtection,
                    tags: { ...tags, [APP_TAG]: app, [STORE_TAG]: label, ...(iam.sharedWithTags[label] !== undefined ? { [SHARED_WITH_TAG]: iam.sharedWithTags[label] } : {}) },
                }, { parent, retainOnDelete: args.retainOnDelete !== false });
                this.tables.set(name, table);
                return table;
            });
            // The owner was constructed first (store-sharing.ts), so its table is known here.
            const shared = stores.keyValue.filter((s) => s.sharedFrom !== undefined).map(({ label, sharedFrom }) => this.tables.get(dynamoTableName(clusterName, sharedFrom!, label))!);
            const user = new aws.iam.User(`${app}-stores`, {
                name: appStoreUserName(clusterName, app),
                path: `/spin-cloud/${clusterName}/`,
                tags: { ...tags, [APP_TAG]: app, ...(iam.sharesTag !== undefined ? { [SHARES_TAG]: iam.sharesTag } : {}) },
            }, { parent });
            const policy = new aws.iam.UserPolicy(`${app}-stores`, {
                user: user.name,
                policy: pulumi.all([pulumi.all([...own, ...shared].map((t) => t.arn)), this.kmsKeyArn])
                    .apply(([arns, key]) => JSON.stringify(appStoresPolicy(arns, key, region))),
            }, { parent });
            // Rotate: bump `stores.accessKeyGeneration` (README "Data").
            const generation = stores.accessKeyGeneration ?? 1;
            const key = new aws.iam.AccessKey(appAccessKeyResourceName(app, generation), { user: user.name }, { parent, additionalSecretOutputs: ["secret"] });
            items[AWS_KEY_ITEMS.accessKeyId] = key.id;
            items[AWS_KEY_ITEMS.secretAccessKey] = pulumi.secret(key.secret);
            // The job starts once the key may reach every table (a shared one included).
            waitFor.push(policy, ...shared);
        }
        for (const { label, args, sharedFrom } of stores.sqlite) {
            if (isPlatformLibsql(args)) {
                // A shared database: the owner's namespace, a token for it, and the owner's marker (none here).
                const db = this.platformDatabase(sharedFrom ?? app, label);
                if (sharedFrom === undefined) new LibsqlDatabase(`${app}-sqlite-${label}`, db, { parent });
                items[libsqlTokenItem(label)] = db.token;
                // The app's job waits for sqld and its namespaces task (the whole LibsqlServer).
                if (this.libsql !== undefined && !waitFor.includes(this.libsql)) waitFor.push(this.libsql);
            } else {
                items[libsqlTokenItem(label)] = pulumi.secret((args as Libsql).token as pulumi.Input<string>);
            }
        }
        if (Object.keys(items).length === 0) return { resources: [], secrets: {} };
        // With a platform database, the tokens are written once the server trusts their key (a
        // rotation rolls sqld first): an instance that restarts meanwhile reads the old token, still trusted.
        const server = waitFor.filter((r) => r === this.libsql);
        const variable = new Variable(`${app}-stores`, { path: spinAppStoreVariablePath(jobId), items }, nomadResourceOptions(nomad, parent, server));
        return { resources: [variable, ...waitFor], secrets: items };
    }
}
