/**
 * Which hosts a Traefik router rule can match, branch by branch. Traefik v3 rules
 * (traefik/traefik pkg/muxer/http/matcher.go, pkg/rules/parser.go) are matcher calls combined
 * with `&&`, `||`, `!` and parentheses; a request matches when any `||` branch does. So a rule
 * is only as narrow as its widest branch: each branch (the rule in disjunctive normal form) must
 * itself pin the host. A branch pins it when one of its `&&` terms is a positive `Host`/`HostSNI`
 * (v2 `HostHeader`) call; a negated term pins nothing; `HostRegexp` cannot be checked.
 */
import { HostMatcher } from "./traefik";

/** One `||` branch: each entry is one host call's alternatives; empty means any host matches. */
export interface RuleBranch {
    readonly hostCalls: readonly HostMatcher[][];
}

type Token = { kind: "call"; name: string; args: string } | { kind: "op"; op: "&&" | "||" | "!" | "(" | ")" };

function tokenize(rule: string): Token[] | undefined {
    const tokens: Token[] = [];
    let i = 0;
    while (i < rule.length) {
        const rest = rule.slice(i);
        const space = /^\s+/.exec(rest);
        if (space) {
            i += space[0].length;
            continue;
        }
        const op = /^(&&|\|\||!|\(|\))/.exec(rest);
        if (op) {
            tokens.push({ kind: "op", op: op[1] as "&&" });
            i += op[1].length;
            continue;
        }
        const call = /^([A-Za-z]+)\s*\(((?:`[^`]*`|"(?:[^"\\]|\\.)*"|'[^']*'|[\s,])*)\)/.exec(rest);
        if (!call) {
            return undefined;
        }
        tokens.push({ kind: "call", name: call[1], args: call[2] });
        i += call[0].length;
    }
    return tokens;
}

const HOST_CALLS = new Set(["Host", "HostSNI", "HostHeader"]);
const REGEXP_CALLS = new Set(["HostRegexp", "HostSNIRegexp"]);

function callBranches(name: string, args: string): RuleBranch[] {
    if (REGEXP_CALLS.has(name)) {
        return [{ hostCalls: [[{ kind: "unverifiable", text: `${name}(${args})` }]] }];
    }
    if (!HOST_CALLS.has(name)) {
        return [{ hostCalls: [] }];
    }
    const hosts = [...args.matchAll(/`([^`]*)`|"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((m) => (m[1] ?? m[2] ?? m[3]).trim().toLowerCase());
    const matchers: HostMatcher[] = hosts.map((host) => (host === "*" || host === "" ? { kind: "unverifiable", text: `${name}(${args})` } : { kind: "host", host }));
    return [{ hostCalls: [matchers.length > 0 ? matchers : [{ kind: "unverifiable", text: `${name}()` }]] }];
}

/** Recursive descent: or := and ('||' and)*; and := unary ('&&' unary)*; unary := '!' unary | '(' or ')' | call. */
function parse(tokens: Token[]): RuleBranch[] | undefined {
    let pos = 0;
    const peekOp = (op: string) => tokens[pos]?.kind === "op" && (tokens[pos] as { op: string }).op === op;
    function or(): RuleBranch[] | undefined {
        let branches = and();
        while (branches && peekOp("||")) {
            pos++;
            const right = and();
            branches = right ? [...branches, ...right] : undefined;
        }
        return branches;
    }
    function and(): RuleBranch[] | undefined {
        let branches = unary();
        while (branches && peekOp("&&")) {
            pos++;
            const right = unary();
            branches = right ? branches.flatMap((l) => right.map((r) => ({ hostCalls: [...l.hostCalls, ...r.hostCalls] }))) : undefined;
        }
        return branches;
    }
    function unary(): RuleBranch[] | undefined {
        const token = tokens[pos];
        if (!token) {
            return undefined;
        }
        if (token.kind === "op" && token.op === "!") {
            pos++;
            // A negation matches every host but some: it pins nothing, whatever it negates.
            return unary() ? [{ hostCalls: [] }] : undefined;
        }
        if (token.kind === "op" && token.op === "(") {
            pos++;
            const inner = or();
            if (!inner || !peekOp(")")) {
                return undefined;
            }
            pos++;
            return inner;
        }
        if (token.kind === "call") {
            pos++;
            return callBranches(token.name, token.args);
        }
        return undefined;
    }
    const result = or();
    return result && pos === tokens.length ? result : undefined;
}

/** The `||` branches of a rule, or `undefined` when the rule does not parse. */
export function ruleBranches(rule: string): RuleBranch[] | undefined {
    const tokens = tokenize(rule);
    return tokens && tokens.length > 0 ? parse(tokens) : undefined;
}
