/**
 * What a node's instance role lets it read from SSM, evaluated as IAM would for the statements
 * spin-cloud writes plus AmazonSSMManagedInstanceCore's `ssm:GetParameter(s)` on "*" (attached
 * for Session Manager): a node reads and decrypts its own parameters and no other role's.
 */
import * as assert from "assert";
import { nodePolicyDocument } from "../../components/aws/node-iam";
import { SECRET_PARAMETERS, secretParameterName } from "../../provisioning/agents/secrets";
import { NodeRole } from "../../provisioning/types";

interface Statement {
    Effect: "Allow" | "Deny";
    Action: string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

const PREFIX = "/spin-cloud/x";
const KEY = "arn:aws:kms:eu-west-1:123456789012:key/k";
const arn = (name: string) => `arn:aws:ssm:eu-west-1:123456789012:parameter${name}`;
/** AmazonSSMManagedInstanceCore's parameter statement (AWS managed policy, version v2 and later). */
const MANAGED_CORE: Statement = { Effect: "Allow", Action: ["ssm:GetParameter", "ssm:GetParameters"], Resource: "*" };

const glob = (pattern: string, value: string) =>
    new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*")}$`).test(value);

/** IAM's rule for one request: an explicit deny wins, then any allow; conditions as StringEquals/StringLike. */
function allowed(statements: Statement[], action: string, resource: string, context: Record<string, string> = {}): boolean {
    const applies = (s: Statement) => s.Action.some((a) => glob(a, action)) &&
        [s.Resource].flat().some((r) => glob(r, resource)) &&
        Object.entries(s.Condition ?? {}).every(([op, keys]) => Object.entries(keys).every(([key, want]) =>
            [want].flat().some((w) => (op === "StringLike" ? glob(w, context[key] ?? "") : context[key] === w))));
    const matching = statements.filter(applies);
    return !matching.some((s) => s.Effect === "Deny") && matching.some((s) => s.Effect === "Allow");
}

function statements(role: NodeRole): Statement[] {
    const doc = nodePolicyDocument(role, "eu-west-1", PREFIX, "aws", "123456789012", KEY, "c") as { Statement: Statement[] };
    return [...doc.Statement, MANAGED_CORE];
}

describe("node IAM: which SSM secrets a node can read", () => {
    for (const role of ["client", "server"] as const) {
        it(`a ${role} reads and decrypts common/ and ${role}/ and nothing of the other role, even with the managed SSM policy`, () => {
            const policy = statements(role);
            for (const p of SECRET_PARAMETERS) {
                const name = arn(secretParameterName(PREFIX, p.scope, p.name));
                const own = p.scope === "common" || p.scope === role;
                for (const action of ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]) {
                    assert.strictEqual(allowed(policy, action, name), own, `${role} ${action} ${p.scope}/${p.name}`);
                }
                const decrypt = allowed(policy, "kms:Decrypt", KEY, { "kms:ViaService": "ssm.eu-west-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": name });
                assert.strictEqual(decrypt, own, `${role} kms:Decrypt of ${p.scope}/${p.name}`);
            }
            assert.strictEqual(allowed(policy, "kms:Decrypt", KEY, { "kms:EncryptionContext:PARAMETER_ARN": arn(`${PREFIX}/common/ca-cert`) }), false,
                "decrypt outside SSM");
        });
    }

    it("the evaluator is not vacuous: without the deny, the managed policy would let a client read the management tokens", () => {
        const withoutDeny = statements("client").filter((s) => s.Effect !== "Deny");
        assert.ok(allowed(withoutDeny, "ssm:GetParameter", arn(`${PREFIX}/server/nomad-management-token`)));
    });
});
