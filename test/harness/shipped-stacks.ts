/**
 * The shipped stacks evaluated under mocks once per test process: most tests only read what a
 * stack registers, and each evaluation of a whole cloud takes about two seconds. A test that
 * needs its own evaluation (a second run, other config) calls evaluateStack itself. Runs are
 * shared: never change one.
 */
import * as path from "path";
import { AppDeclaration } from "../../components/apps/app-declarations";
import { spinCloudProgram } from "../../components/program";
import { evaluateStack, MockRun } from "./mocks";

const runs = new Map<string, Promise<MockRun>>();

function cached(key: string, evaluate: () => Promise<MockRun>): Promise<MockRun> {
    if (!runs.has(key)) runs.set(key, evaluate());
    return runs.get(key)!;
}

/** The shipped stack as `pulumi up` evaluates it; `exampleApp: false` leaves the example app out (AWS resources only). */
export function shippedStack(stack: string, options: { exampleApp?: boolean } = {}): Promise<MockRun> {
    const withoutApp = options.exampleApp === false;
    return cached(`${stack}${withoutApp ? "-no-app" : ""}`, () => evaluateStack(stack, spinCloudProgram, withoutApp ? { config: { exampleApp: "false" } } : {}));
}

/** The stateful fixture app (sqlite_databases = ["default"]): declared as data, it makes the platform build its libSQL server. */
export const LIBSQL_APP: AppDeclaration = { name: "notes", source: path.join(__dirname, "..", "fixtures", "apps", "stateful") };

/** The shipped stack with LIBSQL_APP declared as data: the platform libSQL server, its backup bucket and writer on top. */
export function statefulStack(stack: "dev" | "prod"): Promise<MockRun> {
    return cached(`${stack}+libsql`, () => evaluateStack(stack, () => spinCloudProgram({ apps: [LIBSQL_APP] })));
}
