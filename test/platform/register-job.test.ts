/**
 * How long `pulumi up` waits for a job's deployment: the provider's default (5 minutes,
 * terraform-provider-nomad v2.6.1 nomad/resource_job.go) is shorter than one progress deadline,
 * so every job is registered with `customTimeouts` from its own update strategy.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { SpinApp } from "../../components/apps/spin-app";
import { bindleJob } from "../../provisioning/jobs/bindle-job";
import { libsqlJob } from "../../provisioning/jobs/libsql-job";
import { libsqlPublicKeyPem } from "../../provisioning/jobs/libsql-databases";
import { deploymentWaitMinutes, minutes, NomadJob } from "../../provisioning/jobs/nomad-api";
import { fakeCloud } from "../harness/fake-cloud";
import { evaluateStack } from "../harness/mocks";
import { captureRegistration } from "../harness/registrations";
import { ROOT } from "../harness/stack-config";

const STATEFUL = path.join(ROOT, "test", "fixtures", "apps", "stateful");

describe("job registration timeouts", () => {
    it("waits for every placement's progress deadline, canaries included, plus the evaluation", () => {
        const libsql = libsqlJob({ datacenters: ["dc1"], architecture: "arm64", namespaces: ["a-b"], backup: { region: "eu-west-1", databaseId: "c" },
            jwtPublicKeys: [libsqlPublicKeyPem(Buffer.alloc(32, 1).toString("base64"))] });
        assert.equal(deploymentWaitMinutes(libsql), 10 + 5, "one sqld, 10 min deadline");
        assert.equal(deploymentWaitMinutes(bindleJob({ datacenters: ["dc1"], architecture: "arm64", runtime: { driver: "exec", architecture: "arm64" } })), 15 + 5);
        const group = { Name: "g", Count: 3, Tasks: [], Update: { MaxParallel: 1, MinHealthyTime: 0, HealthyDeadline: minutes(2), ProgressDeadline: minutes(4), AutoRevert: true, Canary: 1 } };
        const job: NomadJob = { ID: "j", Name: "j", Type: "service", Datacenters: ["dc1"], TaskGroups: [group, { ...group, Name: "h", Count: 1, Update: undefined }] };
        assert.equal(deploymentWaitMinutes(job), 4 * 4 + 5, "3 instances and a canary of g; h has no deployment");
        assert.equal(deploymentWaitMinutes({ ...job, Update: group.Update, TaskGroups: [{ ...group, Update: undefined }] }), 4 * 4 + 5, "the job's strategy when the group has none");
    });

    it("registers a SpinApp's job (an Output under its secrets digest) and the libSQL server's with those timeouts", async () => {
        let app: ReturnType<typeof captureRegistration> | undefined;
        let server: ReturnType<typeof captureRegistration> | undefined;
        await evaluateStack("dev", () => {
            app = captureRegistration("nomad:index/job:Job", "notes");
            server = captureRegistration("nomad:index/job:Job", "fake-app-stores-libsql");
            const cloud = fakeCloud({}, { libsqlDatabases: [{ app: "notes", label: "default" }] });
            new SpinApp("notes", { cloud, source: STATEFUL });
            return {};
        });
        // Two instances and one canary, 600 s each (SPIN_APP_DEFAULT_UPDATE), and sqld's 10 minutes.
        assert.deepEqual(app!.options()?.customTimeouts, { create: "35m", update: "35m" });
        assert.deepEqual(server!.options()?.customTimeouts, { create: "15m", update: "15m" });
    });
});
