/**
 * The user data every node of the shipped stacks boots with, decoded as EC2 hands it to the
 * instance, stays within spin-cloud's 12 KiB budget (EC2's limit is 16 KiB). Growth path when it
 * would not: provisioning/aws/cloud-init.ts and README "Operating notes".
 */
import * as assert from "assert";
import { USER_DATA_BUDGET_BYTES } from "../../provisioning/aws/cloud-init";
import { ofType } from "../harness/mocks";
import { shippedStack } from "../harness/shipped-stacks";

describe("user data budget of the shipped stacks", () => {
    for (const stack of ["dev", "prod"]) {
        it(`keeps every node of ${stack} at or under ${USER_DATA_BUDGET_BYTES} bytes decoded`, async () => {
            const run = await shippedStack(stack, { exampleApp: false });
            const sizes = [
                ...ofType(run, "aws:ec2/instance:Instance").map((i) => [i.name, Buffer.from(i.inputs.userDataBase64 as string, "base64").length] as const),
                ...ofType(run, "aws:ec2/launchTemplate:LaunchTemplate").map((t) => [t.name, Buffer.from(t.inputs.userData as string, "base64").length] as const),
            ];
            assert.ok(sizes.length >= 4, JSON.stringify(sizes));
            assert.deepStrictEqual(sizes.filter(([, size]) => size > USER_DATA_BUDGET_BYTES), []);
        });
    }
});
