import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { LibsqlNamespace, checkedLibsqlDatabases, LibsqlDatabaseRef, libsqlDatabaseUrl, libsqlPublicKeyPem, libsqlToken } from "../../provisioning/jobs/libsql-databases";
import { LIBSQL_VARIABLES, LibsqlResources, libsqlJob } from "../../provisioning/jobs/libsql-job";
import { Architecture } from "../../provisioning/types";
import { Variable } from "../nomad";
import { NomadAccess, nomadResourceOptions, registerJob } from "./nomad-access";

/** Room for the namespace list in the shared Variable (64 KiB in all, the admin key beside it). */
export const LIBSQL_NAMESPACES_MAX_BYTES = 60_000;

/** Where sqld's continuous backup (bottomless) writes, and the static key it writes with (sqld takes no instance role). */
export interface LibsqlBackupTarget {
    readonly bucket: pulumi.Input<string>;
    readonly region: string;
    readonly accessKeyId: pulumi.Input<string>;
    /** Secret. */
    readonly secretAccessKey: pulumi.Input<string>;
}

export interface LibsqlServerArgs {
    readonly nomad: NomadAccess;
    readonly datacenter: string;
    readonly architecture: Architecture;
    /** Every app database the server holds (at least one): each becomes a namespace. */
    readonly databases: readonly LibsqlDatabaseRef[];
    readonly backup: LibsqlBackupTarget;
    /** Prefix of every namespace's backup objects (`ns-<id>:<namespace>`): the cluster name. */
    readonly backupId: string;
    /** Defaults: LIBSQL_DEFAULT_RESOURCES. */
    readonly resources?: Partial<LibsqlResources>;
}

/** What an app's SQLite label gets from the platform server: Spin's `url`, and its token (secret). */
export interface LibsqlDatabaseAccess {
    readonly namespace: string;
    readonly url: string;
    readonly token: pulumi.Output<string>;
}

/**
 * The platform's libSQL server (docs/libsql.md): the `libsql` Nomad job with one namespace per
 * app database, a platform Ed25519 key whose public half sqld verifies tokens with, each app's
 * token (a JWT naming its namespace only), and the admin key the namespace sidecar uses. All
 * secret material is a Pulumi secret reaching the tasks through the job's two Variables.
 */
export class LibsqlServer extends pulumi.ComponentResource {
    readonly databases: readonly LibsqlNamespace[];
    readonly jobId: pulumi.Output<string>;
    private readonly signingSeed: pulumi.Output<string>;

    constructor(name: string, args: LibsqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
        const databases = checkedLibsqlDatabases(args.databases, "LibsqlServer databases");
        if (databases.length === 0) throw new Error("LibsqlServer databases is []; the server is only built for at least one database (SpinCloud builds none without one)");
        const namespaces = databases.map((d) => `${d.namespace}\n`).join("");
        // Nomad refuses a Variable over 64 KiB (nomad/structs/variables.go maxVariableSize).
        if (Buffer.byteLength(namespaces) > LIBSQL_NAMESPACES_MAX_BYTES) {
            throw new Error(`LibsqlServer databases: ${databases.length} namespaces take ${Buffer.byteLength(namespaces)} bytes; one Nomad Variable holds at most ${LIBSQL_NAMESPACES_MAX_BYTES} of them`);
        }
        super("spin-cloud:platform:LibsqlServer", name, {}, opts);
        const parent = { parent: this };
        this.databases = databases;
        // Replacing this resource (`pulumi up --replace`) rotates every token: the apps roll onto the new ones.
        this.signingSeed = pulumi.secret(new random.RandomBytes(`${name}-signing-key`, { length: 32 }, parent).base64);
        const adminKey = new random.RandomPassword(`${name}-admin`, { length: 40, special: false }, parent).result;
        const { shared, server } = LIBSQL_VARIABLES;
        const sharedVariable = new Variable(`${name}-shared`, {
            path: shared.path,
            items: {
                [shared.items.adminKey]: pulumi.secret(adminKey),
                [shared.items.namespaces]: namespaces,
            },
        }, nomadResourceOptions(args.nomad, this));
        const serverVariable = new Variable(`${name}-server`, {
            path: server.path,
            items: {
                [server.items.bucket]: args.backup.bucket,
                [server.items.accessKeyId]: args.backup.accessKeyId,
                [server.items.secretAccessKey]: pulumi.secret(args.backup.secretAccessKey),
                [server.items.jwtPublicKeys]: this.signingSeed.apply(libsqlPublicKeyPem),
            },
        }, nomadResourceOptions(args.nomad, this));
        const job = registerJob(name, libsqlJob({
            datacenters: [args.datacenter],
            architecture: args.architecture,
            namespaces: databases.map((d) => d.namespace),
            backup: { region: args.backup.region, databaseId: args.backupId },
            resources: args.resources,
        }), args.nomad, this, [sharedVariable, serverVariable]);
        this.jobId = job.name;
        this.registerOutputs({ jobId: this.jobId, namespaces: databases.map((d) => d.namespace) });
    }

    /** The app's database `label`: refused when the server was not built with it. */
    database(app: string, label: string): LibsqlDatabaseAccess {
        const db = this.databases.find((d) => d.app === app && d.label === label);
        if (db === undefined) {
            throw new Error(`SpinApp ${app} stores.sqlite.${label}: the platform libSQL server was not built with this database; `
                + "declare the app in spinCloudProgram({ apps }) so the cloud knows its databases before it is built, "
                + `or pass { app: "${app}", label: "${label}" } in SpinCloud's libsqlDatabases`);
        }
        // The app's job waits for this component (AwsAppStores puts it among the job's resources).
        return { namespace: db.namespace, url: libsqlDatabaseUrl(db.namespace), token: pulumi.secret(this.signingSeed.apply((seed) => libsqlToken(db.namespace, seed))) };
    }
}

/**
 * One app database of the platform server, under its app: what the app's stores show in the
 * stack. Registered with `retainOnDelete`, so removing the store (or the app) previews as
 * `delete [retain]`: the namespace and its backup stay on the server (docs/libsql.md "Deleting a
 * database"), as the preview says (test/real/pulumi-retain.test.ts).
 */
export class LibsqlDatabase extends pulumi.ComponentResource {
    readonly namespace: string;
    readonly url: string;

    constructor(name: string, access: Pick<LibsqlDatabaseAccess, "namespace" | "url">, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:stores:LibsqlDatabase", name, {}, { ...opts, retainOnDelete: true });
        this.namespace = access.namespace;
        this.url = access.url;
        this.registerOutputs({ namespace: this.namespace, url: this.url });
    }
}
