/**
 * A stand-in cloud for SpinApp tests: the AppPlatform a SpinApp needs, without building the AWS
 * cloud behind it (a full SpinCloud takes seconds to evaluate; these tests are about the app).
 */
import * as pulumi from "@pulumi/pulumi";
import { AppCloud, AppPlatform } from "../../components/platform/app-platform";
import { BindleServer } from "../../components/platform/bindle-server";
import { nomadProvider } from "../../components/nomad";
import { AwsAppStores } from "../../components/aws/app-stores";
import { LibsqlDatabaseRef } from "../../provisioning/jobs/libsql-databases";

export const FAKE_CA_PEM = "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n";

/**
 * Call inside an evaluated program. Registers only a Nomad provider and a stand-in leader gate
 * (and, with `libsqlDatabases`, the platform libSQL server with those databases).
 */
export function fakeCloud(overrides: Partial<AppPlatform> = {}, options: { libsqlDatabases?: readonly LibsqlDatabaseRef[] } = {}): AppCloud {
    const leader = new pulumi.ComponentResource("test:index:LeaderGate", "leader");
    const bindle = {
        url: pulumi.output("https://bindle.example.internal:8085/v1"),
        internalUrl: "http://bindle.service.consul:8085/v1",
        username: "spin-cloud",
        password: pulumi.secret("push-password"),
        creatorKeypair: pulumi.secret("creator-keypair"),
    } as unknown as BindleServer;
    const nomad = { provider: nomadProvider("fake-nomad", { address: "https://nomad.example.com:4646", caPem: FAKE_CA_PEM, secretId: "token" }), leader };
    const libsql = options.libsqlDatabases === undefined ? undefined : { databases: options.libsqlDatabases, nomad, datacenter: "dc1", architecture: "arm64" as const };
    return {
        platform: {
            clusterName: "fake",
            datacenter: "dc1",
            architecture: "arm64",
            sharedOrigin: pulumi.output("http://apps.lb.example.com"),
            runtime: { driver: "exec" },
            nomad,
            bindle,
            caCertPem: pulumi.output(FAKE_CA_PEM),
            stores: new AwsAppStores("fake-app-stores", { clusterName: "fake", region: "eu-west-1", deletionProtection: true, ...(libsql ? { libsql } : {}) }),
            ...overrides,
        },
    };
}
