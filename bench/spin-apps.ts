/**
 * SpinApp performance (issue "SpinApp performance"): one cloud plus N apps evaluated under the
 * test suite's Pulumi mocks (test/harness/mocks.ts `evaluateStack`), against the same number of
 * bare custom resources registered in the same process, in the same run.
 *
 * For each N:
 *   (a) one SpinCloud alone;
 *   (b) one SpinCloud + N SpinApps (`app-0001`…, the test fixture app, path-prefix routing);
 *   (c) one SpinCloud + as many bare custom resources (a made-up type, one small input) as (b)
 *       registers beyond (a).
 * Per app: time (t(b) - t(a)) / N, heap (h(b) - h(a)) / N, resources (r(b) - r(a)) / N.
 * Headline: ratios of (b) - (a) to (c) - (a), both measured here; absolute figures depend on the
 * machine and are context only. See bench/README.md.
 *
 *   npm run bench                  # N = 10, 100, 500
 *   npm run bench -- 10 100        # other sizes
 *   BENCH_REPS=7 npm run bench     # evaluations per measurement, median (default 5)
 *   BENCH_DEBUG=1 npm run bench    # every evaluation
 *
 * Heap figures need `--expose-gc` (the npm script passes it); without it they are left out.
 */
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BindlePush } from "../components/apps/bindle-push";
import { NomadLeader } from "../components/nomad";
import { SpinApp } from "../components/apps/spin-app";
import { SpinCloud } from "../components/aws/spin-cloud";
import { MockRun, evaluateStack } from "../test/harness/mocks";
import { ROOT } from "../test/harness/stack-config";

/** No stack file: the program's defaults; the cloud gets what it needs as arguments (as in test/apps/spin-app.test.ts). */
const STACK = "unit";
const CLOUD_ARGS = { awsRegion: "eu-west-1", operatorCidrs: ["172.20.0.0/24"] };
/** No build step; declares a required secret variable `token`. */
const APP_DIR = path.join(ROOT, "test", "fixtures", "apps", "hello");
const SIZES = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n) && n > 0);
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 5));
const DEBUG = Boolean(process.env.BENCH_DEBUG);
const gc = (globalThis as { gc?: () => void }).gc;

/** A custom resource with a made-up type: the mocks accept any type. */
class Bare extends pulumi.CustomResource {
    constructor(name: string, index: number) {
        super("bench:index:Bare", name, { index });
    }
}

/** A program, and what it built (kept alive while the heap is measured). */
type Program = (keep: unknown[]) => Record<string, unknown>;

const cloudOnly: Program = (keep) => {
    keep.push(new SpinCloud("c", CLOUD_ARGS));
    return {};
};

const appName = (i: number) => `app-${String(i + 1).padStart(4, "0")}`;

function cloudWithApps(n: number): Program {
    return (keep) => {
        const cloud = new SpinCloud("c", CLOUD_ARGS);
        keep.push(cloud);
        for (let i = 0; i < n; i++) {
            keep.push(new SpinApp(appName(i), { cloud, source: APP_DIR, secretVariables: { token: `token-${i}` } }));
        }
        return {};
    };
}

function cloudWithBare(count: number): Program {
    return (keep) => {
        keep.push(new SpinCloud("c", CLOUD_ARGS));
        for (let i = 0; i < count; i++) {
            keep.push(new Bare(`bare-${i}`, i));
        }
        return {};
    };
}

/**
 * Evaluated before every measurement: resets the mocks' recorder and monitor, and moves what
 * @pulumi/pulumi's per-process dynamic-provider cache keeps reachable (the last run that used
 * each dynamic provider: NomadLeader's and BindlePush's) onto two tiny resources, so no earlier
 * run's resource graph is counted in, or freed during, the next measurement.
 */
const flushProgram = () => {
    new NomadLeader("flush-leader", { address: "https://flush.invalid:4646", caPem: "-" });
    new BindlePush("flush-push", { serverUrl: "https://flush.invalid/v1", appDir: "/", invoiceToml: "", parcels: [] });
    return {};
};

async function flush(): Promise<void> {
    await evaluateStack(STACK, flushProgram);
    gc?.();
    gc?.();
}

const heapUsed = () => process.memoryUsage().heapUsed;

interface Sample {
    /** The whole evaluateStack call, ms. */
    readonly ms: number;
    /** Its synchronous part: the program's constructors, ms. */
    readonly constructMs: number;
    /** Heap in use after a full GC with the run's result and resources alive, over the heap before it (NaN without --expose-gc). */
    readonly heap: number;
    readonly run: MockRun;
}

async function measure(program: Program): Promise<Sample> {
    await flush();
    const before = gc ? heapUsed() : NaN;
    let keep: unknown[] = [];
    let constructMs = 0;
    const timed = () => {
        const start = process.hrtime.bigint();
        try {
            return program(keep);
        } finally {
            constructMs = Number(process.hrtime.bigint() - start) / 1e6;
        }
    };
    const start = process.hrtime.bigint();
    const run = await evaluateStack(STACK, timed);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    gc?.();
    gc?.();
    const heap = gc ? heapUsed() - before : NaN;
    keep = [];
    if (DEBUG) {
        console.log(`    ${run.resources.length} resources: ${ms.toFixed(0)} ms (constructors ${constructMs.toFixed(0)}), heap ${(heap / 1048576).toFixed(2)} MB over ${(before / 1048576).toFixed(1)} MB`);
    }
    return { ms, constructMs, heap, run };
}

/**
 * What evaluateStack spends matching URNs to recorded resources (a `find` over every URN for
 * every resource), measured by repeating that loop on the run's own figures.
 */
function urnMatchingMs(run: MockRun): number {
    const urns = run.resources.map((r) => r.urn);
    const start = process.hrtime.bigint();
    let found = 0;
    for (const resource of run.resources) {
        if (urns.find((urn) => urn.endsWith(`${resource.type}::${resource.name}`))) found++;
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (found !== run.resources.length) throw new Error(`URN matching found ${found} of ${run.resources.length}`);
    return ms;
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Figures { ms: number; constructMs: number; heap: number; resources: number; run: MockRun }

function summarize(samples: Sample[]): Figures {
    const counts = new Set(samples.map((s) => s.run.resources.length));
    if (counts.size !== 1) {
        throw new Error(`the resource count differs between evaluations of one program (${[...counts].join(", ")}): something leaks between runs`);
    }
    return {
        ms: median(samples.map((s) => s.ms)),
        constructMs: median(samples.map((s) => s.constructMs)),
        heap: median(samples.map((s) => s.heap)),
        resources: samples[0].run.resources.length,
        run: samples[samples.length - 1].run,
    };
}

/** Resource types of `run` beyond those of `base`, with their counts. */
function extraTypes(run: MockRun, base: MockRun): Map<string, number> {
    const left = new Map<string, number>();
    for (const r of base.resources) left.set(r.type, (left.get(r.type) ?? 0) + 1);
    const out = new Map<string, number>();
    for (const r of run.resources) {
        const n = left.get(r.type) ?? 0;
        if (n > 0) left.set(r.type, n - 1);
        else out.set(r.type, (out.get(r.type) ?? 0) + 1);
    }
    return out;
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
const col = (s: string | number, n: number) => String(s).padStart(n);

interface Row { n: number; perApp: number; a: Figures; b: Figures; c: Figures; urnMs: number }

async function main(): Promise<void> {
    const sizes = SIZES.length > 0 ? SIZES : [10, 100, 500];
    const started = Date.now();
    console.log(`SpinApp benchmark, ${new Date().toISOString().slice(0, 10)}: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? "?"}), `
        + `median of ${REPS} evaluations per measurement, heap ${gc ? "measured" : "not measured (run node with --expose-gc)"}`);

    // Warm-up: module loading, JIT, source maps, each dynamic provider's serialized code (cached per process).
    for (const program of [cloudOnly, cloudWithApps(10), cloudWithBare(40), cloudOnly]) await measure(program);
    const start = summarize([await measure(cloudOnly)]);
    await flush();
    const heapAtStart = heapUsed();

    const rows: Row[] = [];
    for (const n of sizes) {
        // How many bare resources to register comes from what the apps register: one (b) first.
        const first = await measure(cloudWithApps(n));
        const added = first.run.resources.length - start.resources;
        const a: Sample[] = [], b: Sample[] = [first], c: Sample[] = [];
        for (let rep = 0; rep < REPS; rep++) {
            a.push(await measure(cloudOnly));
            if (rep > 0) b.push(await measure(cloudWithApps(n)));
            c.push(await measure(cloudWithBare(added)));
        }
        const row: Row = { n, perApp: added / n, a: summarize(a), b: summarize(b), c: summarize(c), urnMs: 0 };
        if (row.a.resources !== start.resources || row.c.resources !== row.b.resources) {
            throw new Error(`resource counts do not add up: cloud ${row.a.resources} (${start.resources} at the start), cloud + apps ${row.b.resources}, cloud + bare ${row.c.resources}`);
        }
        row.urnMs = urnMatchingMs(row.b.run);
        rows.push(row);
        console.log(`  N=${n}: cloud ${fmt(row.a.ms, 0)} ms, cloud + apps ${fmt(row.b.ms, 0)} ms, cloud + bare ${fmt(row.c.ms, 0)} ms`);
    }

    const last = rows[rows.length - 1];
    console.log(`\nThe cloud alone registers ${start.resources} resources. Per app: ${rows.map((r) => r.perApp).join(" / ")} (N = ${rows.map((r) => r.n).join(" / ")}):`);
    for (const [type, count] of [...extraTypes(last.b.run, last.a.run)].sort()) {
        console.log(`  ${fmt(count / last.n, Number.isInteger(count / last.n) ? 0 : 2)} × ${type}`);
    }

    const perApp = (r: Row) => ({
        appMs: (r.b.ms - r.a.ms) / r.n,
        bareMs: (r.c.ms - r.a.ms) / r.n,
        ctorMs: (r.b.constructMs - r.a.constructMs) / r.n,
        bareCtorMs: (r.c.constructMs - r.a.constructMs) / r.n,
        appKb: (r.b.heap - r.a.heap) / r.n / 1024,
        bareKb: (r.c.heap - r.a.heap) / r.n / 1024,
    });
    const base = perApp(rows[0]);

    console.log("\nHeadline: one SpinApp against as many bare custom resources (ratios of figures measured in this run)");
    console.log(`${col("N", 5)} ${col("res/app", 8)} ${col("time ×bare", 11)} ${col("ctor ×bare", 11)} ${col("heap ×bare", 11)} ${col(`time/app ×(N=${rows[0].n})`, 18)}`);
    for (const r of rows) {
        const p = perApp(r);
        console.log([col(r.n, 5), col(r.perApp, 8), col(fmt(p.appMs / p.bareMs), 11), col(fmt(p.ctorMs / p.bareCtorMs), 11),
            col(fmt(p.appKb / p.bareKb), 11), col(fmt(p.appMs / base.appMs), 18)].join(" "));
    }

    console.log("\nContext, absolute (this machine only). Per app: (b - a) / N; bare: (c - a) / N, for the same resource count; ctor: synchronous part");
    console.log([col("N", 5), col("app ms", 8), col("bare ms", 8), col("app ctor", 9), col("bare ctor", 10), col("app KB", 8), col("bare KB", 8),
        col("a ms", 7), col("b ms", 7), col("c ms", 7), col("URN match ms", 13)].join(" "));
    for (const r of rows) {
        const p = perApp(r);
        console.log([col(r.n, 5), col(fmt(p.appMs), 8), col(fmt(p.bareMs), 8), col(fmt(p.ctorMs), 9), col(fmt(p.bareCtorMs), 10),
            col(fmt(p.appKb, 1), 8), col(fmt(p.bareKb, 1), 8), col(fmt(r.a.ms, 0), 7), col(fmt(r.b.ms, 0), 7), col(fmt(r.c.ms, 0), 7),
            col(fmt(r.urnMs, 1), 13)].join(" "));
    }

    // Nothing carried over: after the largest run, the cloud alone registers and holds what it did at the start.
    const end = await measure(cloudOnly);
    if (end.run.resources.length !== start.resources) {
        throw new Error(`the cloud alone registered ${start.resources} resources at the start and ${end.run.resources.length} at the end`);
    }
    await flush();
    console.log(`\nBetween runs: the cloud alone registers ${start.resources} resources at the start and at the end`
        + (gc ? `; its evaluation holds ${fmt(start.heap / 1048576, 2)} MB at the start and ${fmt(end.heap / 1048576, 2)} MB at the end; `
            + `heap in use after a flush ${fmt(heapAtStart / 1048576, 1)} MB at the start, ${fmt(heapUsed() / 1048576, 1)} MB at the end` : "")
        + `. Total ${fmt((Date.now() - started) / 1000, 0)} s.`);
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
