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
    /**
     * Generation of the token-signing key (an integer, 1 or more; default 1): bump it by one to
     * rotate. At generation N the apps' tokens are signed with key N and sqld trusts keys N and
     * N-1; older keys are deleted. `pulumi up` replaces sqld with both keys first (the job's
     * deployment), then rolls the apps onto their new tokens (they depend on this component), so
     * no running token is ever refused. Key N-1 stays trusted until the next bump: to retire a
     * leaked key at once, bump twice (two `up`s). SpinCloud setting `libsqlSigningKeyGeneration`.
     */
    readonly signingKeyGeneration?: number;
}

/** The default signing key generation: the key every stack had before generations existed. */
const FIRST_SIGNING_KEY_GENERATION = 1;

/** The key generations a server at `generation` registers, newest first: it and the one before. */
export function libsqlSigningKeyGenerations(generation: number): number[] {
    if (!Number.isSafeInteger(generation) || generation < FIRST_SIGNING_KEY_GENERATION) {
        throw new Error(`LibsqlServer signingKeyGeneration is ${JSON.stringify(generation)}; must be an integer of ${FIRST_SIGNING_KEY_GENERATION} or more`);
    }
    return generation > FIRST_SIGNING_KEY_GENERATION ? [generation, generation - 1] : [generation];
}

/** Generation 1 keeps the name the one key always had, so an existing stack sees no change. */
export function libsqlSigningKeyName(server: string, generation: number): string {
    return generation === FIRST_SIGNING_KEY_GENERATION ? `${server}-signing-key` : `${server}-signing-key-${generation}`;
}

/** What an app's SQLite label gets from the platform server: Spin's `url`, and its token (secret). */
export interface LibsqlDatabaseAccess {
    readonly namespace: string;
    readonly url: string;
    readonly token: pulumi.Output<string>;
}

/**
 * The platform's libSQL server (docs/libsql.md): the `libsql` Nomad job with one namespace per
 * app database, the platform's Ed25519 signing keys (the current generation and the one before)
 * whose public halves sqld verifies tokens with, each app's token (a JWT naming its namespace
 * only, signed with the current key), and the admin key the namespace sidecar uses. All secret
 * material is a Pulumi secret reaching the tasks through the job's two Variables; the public keys
 * are in the jobspec.
 */
export class LibsqlServer extends pulumi.ComponentResource {
    readonly databases: readonly LibsqlNamespace[];
    readonly jobId: pulumi.Output<string>;
    private readonly signingSeed: pulumi.Output<string>;

    constructor(name: string, args: LibsqlServerArgs, opts?: pulumi.ComponentResourceOptions) {
        const databases = checkedLibsqlDatabases(args.databases, "LibsqlServer databases");
        const generations = libsqlSigningKeyGenerations(args.signingKeyGeneration ?? FIRST_SIGNING_KEY_GENERATION);
        if (databases.length === 0) throw new Error("LibsqlServer databases is []; the server is only built for at least one database (SpinCloud builds none without one)");
        const namespaces = databases.map((d) => `${d.namespace}\n`).join("");
        // Nomad refuses a Variable over 64 KiB (nomad/structs/variables.go maxVariableSize).
        if (Buffer.byteLength(namespaces) > LIBSQL_NAMESPACES_MAX_BYTES) {
            throw new Error(`LibsqlServer databases: ${databases.length} namespaces take ${Buffer.byteLength(namespaces)} bytes; one Nomad Variable holds at most ${LIBSQL_NAMESPACES_MAX_BYTES} of them`);
        }
        const jobFor = (keys: readonly string[]) => libsqlJob({
            datacenters: [args.datacenter],
            architecture: args.architecture,
            namespaces: databases.map((d) => d.namespace),
            backup: { region: args.backup.region, databaseId: args.backupId },
            jwtPublicKeys: keys,
            resources: args.resources,
        });
        // The job is an Output (the keys come from the seeds, unknown in a preview that makes one),
        // so its input is checked now with placeholder keys, before anything registers.
        const shape = jobFor(generations.map((_, i) => libsqlPublicKeyPem(Buffer.alloc(32, i).toString("base64"))));
        super("spin-cloud:platform:LibsqlServer", name, {}, opts);
        const parent = { parent: this };
        this.databases = databases;
        // One seed per generation; a generation that leaves `generations` is deleted by Pulumi.
        const seeds = generations.map((g) => pulumi.secret(new random.RandomBytes(libsqlSigningKeyName(name, g), { length: 32 }, parent).base64));
        this.signingSeed = seeds[0];
        // Public halves are not secret: unsecret, so the jobspec and its diff stay readable.
        const jwtPublicKeys = pulumi.unsecret(pulumi.all(seeds).apply((all) => all.map(libsqlPublicKeyPem)));
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
            },
        }, nomadResourceOptions(args.nomad, this));
        const job = registerJob(name, jwtPublicKeys.apply(jobFor), args.nomad, this, [sharedVariable, serverVariable], shape);
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
