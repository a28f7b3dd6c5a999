import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BINDLE_VARIABLE_ITEMS, BindleRuntime, bindleApiUrl, bindleJob } from "../../provisioning/jobs/bindle-job";
import { JOB_IDS } from "../../provisioning/platform";
import { Architecture } from "../../provisioning/types";
import { BindleKey, bindleKeyFromSeed, htpasswdLine, renderKeyring, renderSecretKeyFile } from "../bindle/keys";
import { NomadAccess, jobSecrets, registerJob } from "./nomad-access";

export interface BindleServerArgs {
    nomad: NomadAccess;
    datacenter: string;
    architecture: Architecture;
    /** Where operators (and `pulumi up`, to push apps) reach the API: the operator endpoint. */
    operatorUrl: pulumi.Input<string>;
    /** Default: the release tarball of `architecture` under exec (AWS); the local target runs the installed binary under raw_exec. */
    runtime?: BindleRuntime;
}

/** The one user allowed to write (push) to Bindle; reads are anonymous (nodes fetch parcels). */
export const BINDLE_PUSH_USER = "spin-cloud";

/** The platform Bindle's keys: the server's `host` key and the `creator` key `pulumi up` signs invoices with. */
export interface BindleKeys {
    readonly host: BindleKey;
    readonly creator: BindleKey;
}

export function bindleKeys(hostSeedBase64: string, creatorSeedBase64: string): BindleKeys {
    return {
        host: bindleKeyFromSeed("spin-cloud bindle host", ["host"], hostSeedBase64),
        creator: bindleKeyFromSeed("spin-cloud pulumi", ["creator"], creatorSeedBase64),
    };
}

/** The items of the Bindle job's Variable: the push user's htpasswd line, the host key, a keyring trusting both keys. */
export function bindleVariableItems(pushPasswordBcrypt: string, keys: BindleKeys): Record<string, string> {
    return {
        [BINDLE_VARIABLE_ITEMS.htpasswd]: htpasswdLine(BINDLE_PUSH_USER, pushPasswordBcrypt),
        [BINDLE_VARIABLE_ITEMS.signingKeys]: renderSecretKeyFile([keys.host]),
        [BINDLE_VARIABLE_ITEMS.keyring]: renderKeyring([keys.host, keys.creator]),
    };
}

/**
 * The Bindle server that holds the apps: a Nomad service job whose data lives on the EFS-backed
 * host volume. Its credentials and keys are Pulumi secrets handed to the job as a Nomad Variable:
 * a bcrypt htpasswd entry for the push user, the server's host signing key, and a keyring that
 * trusts the creator key `pulumi up` signs invoices with.
 */
export class BindleServer extends pulumi.ComponentResource {
    readonly jobId: pulumi.Output<string>;
    /** API root for pushing (AWS: the operator endpoint, TLS with the cluster CA); known once the Bindle job is deployed. */
    readonly url: pulumi.Output<string>;
    /** API root nodes fetch from, through Consul DNS. */
    readonly internalUrl: string;
    readonly username: string;
    readonly password: pulumi.Output<string>;
    /** Bindle `keypair` of the creator key that signs pushed invoices (secret). */
    readonly creatorKeypair: pulumi.Output<string>;

    constructor(name: string, args: BindleServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("spin-cloud:platform:BindleServer", name, {}, opts);
        const parent = { parent: this };
        const password = new random.RandomPassword(`${name}-push`, { length: 40, special: false }, parent);
        const seed = (role: string) => new random.RandomBytes(`${name}-${role}-key`, { length: 32 }, parent).base64;
        const keys = pulumi.all([seed("host"), seed("creator")]).apply(([hostSeed, creatorSeed]) => bindleKeys(hostSeed, creatorSeed));
        // Bindle accepts only `$2y$` bcrypt hashes; the random provider writes Go's `$2a$` (htpasswdLine).
        const items = pulumi.all([password.bcryptHash, keys]).apply(([hash, k]) => bindleVariableItems(hash, k));
        const secrets = jobSecrets(`${name}-secrets`, JOB_IDS.bindle,
            Object.fromEntries(Object.values(BINDLE_VARIABLE_ITEMS).map((item) => [item, items.apply((all) => all[item])])), args.nomad, this);
        const job = registerJob(name, bindleJob({ datacenters: [args.datacenter], architecture: args.architecture, runtime: args.runtime }), args.nomad, this, [secrets]);

        this.jobId = job.name;
        // Through the job's id: a push (BindlePush) waits until Nomad reports Bindle's deployment
        // healthy (the job is registered with `detach: false`), instead of racing its start.
        this.url = pulumi.all([job.id, args.operatorUrl]).apply(([, url]) => url);
        this.internalUrl = bindleApiUrl(args.runtime);
        this.username = BINDLE_PUSH_USER;
        this.password = pulumi.secret(password.result);
        this.creatorKeypair = pulumi.secret(keys.apply((k) => k.creator.keypair));
        this.registerOutputs({ jobId: this.jobId, url: this.url, internalUrl: this.internalUrl });
    }
}
