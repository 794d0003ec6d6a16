import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs, type ScenarioName, usage } from "./args.ts";
import { type Child, machineTicks } from "./child.ts";
import { type LoadTarget, runLoad } from "./load.ts";
import { formatProfileSummary, loadSummary, type Window } from "./profile-summary.ts";
import {
  type BenchReport,
  type CpuShare,
  computeOverhead,
  formatReport,
  type IngestResult,
  type ScenarioResult,
} from "./report.ts";
import { type BenchStack, Cleanup, startStack } from "./stack.ts";
import { ledgerCount, waitForDrain, watchIngest } from "./worker-probe.ts";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const outDir = join(root, ".data/bench");

const parsed = parseArgs(process.argv.slice(2));
if (!parsed.ok) {
  process.stderr.write(`bench: ${parsed.line}\n${usage}\n`);
  process.exit(2);
}
const options = parsed.options;
if (options.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const cleanup = new Cleanup();
const abort = new AbortController();
// One Ctrl-C arrives more than once (from the terminal, and relayed by pnpm's node and tsx):
// only a signal well after the first means "stop waiting for cleanup".
let interruptedAt = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    const now = Date.now();
    if (interruptedAt > 0) {
      if (now - interruptedAt < 2_000) return;
      process.stderr.write("bench: second signal, exiting without waiting for cleanup\n");
      process.exit(130);
    }
    interruptedAt = now;
    process.stderr.write(`bench: ${signal}, stopping the load and cleaning up\n`);
    abort.abort();
  });
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function target(stack: BenchStack, scenario: ScenarioName): LoadTarget {
  const proxied = scenario.startsWith("proxy-");
  const stream = scenario.endsWith("-stream");
  // The same client request both ways: the difference is what a client sees the gateway add.
  const body = JSON.stringify({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Say hello to the benchmark." }],
    ...(stream ? { stream: true } : {}),
  });
  return {
    origin: proxied ? stack.proxyUrl : stack.fakeUrl,
    path: "/v1/chat/completions",
    headers: {
      authorization: `Bearer ${proxied ? stack.secret : "sk-bench-upstream"}`,
      "content-type": "application/json",
    },
    body,
    stream,
  };
}

function revision(): BenchReport["revision"] {
  const git = (args: string[]) => spawnSync("git", args, { cwd: root, encoding: "utf8" });
  const head = git(["rev-parse", "HEAD"]);
  const status = git(["status", "--porcelain", "--", "apps", "packages"]);
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    dirty: status.status === 0 ? status.stdout.trim() !== "" : null,
  };
}

function cpuMeter(stack: BenchStack) {
  const children: [keyof CpuShare, Child][] = [
    ["fakeProvider", stack.fake],
    ["proxy", stack.proxy],
    ["worker", stack.worker],
  ];
  const startWall = performance.now();
  const startSelf = process.cpuUsage();
  const startChildren = children.map(([, c]) => c.cpuSeconds());
  const startMachine = machineTicks();
  const startServices = stack.servicesCpuSeconds();
  return (): CpuShare => {
    const wallS = (performance.now() - startWall) / 1000;
    const self = process.cpuUsage(startSelf);
    const share = (cpuS: number) => (wallS > 0 ? (100 * cpuS) / wallS : 0);
    const out: CpuShare = {
      loadGenerator: share((self.user + self.system) / 1e6),
      fakeProvider: null,
      proxy: null,
      worker: null,
      services: null,
      other: null,
      machine: null,
    };
    const endServices = stack.servicesCpuSeconds();
    if (startServices !== null && endServices !== null)
      out.services = share(endServices - startServices);
    const endMachine = machineTicks();
    if (startMachine && endMachine && endMachine.total > startMachine.total)
      out.machine =
        (100 * (endMachine.busy - startMachine.busy)) / (endMachine.total - startMachine.total);
    children.forEach(([name, child], i) => {
      const before = startChildren[i];
      const after = child.cpuSeconds();
      if (before != null && after != null) out[name] = share(after - before);
    });
    if (out.machine !== null) {
      const ours = [out.loadGenerator, out.fakeProvider, out.proxy, out.worker, out.services];
      if (ours.every((v) => v !== null)) {
        const cores = availableParallelism();
        const sum = ours.reduce<number>((a, b) => a + (b ?? 0), 0);
        out.other = Math.max(0, out.machine * cores - sum);
      }
    }
    return out;
  };
}

async function runScenario(
  stack: BenchStack,
  scenario: ScenarioName,
  connections: number,
): Promise<{ result: ScenarioResult; measuredUs: Window }> {
  const proxied = scenario.startsWith("proxy-");
  const baseline = proxied ? await ledgerCount(stack.sql) : 0;
  const watcher = proxied ? watchIngest(stack.sql, stack.workerMetricsUrl, 250) : null;
  const cpu = cpuMeter(stack);
  const loadStartedAt = performance.now();
  const measuredFromUs = Number(process.hrtime.bigint() / 1000n) + options.warmupS * 1e6;
  const load = await runLoad(target(stack, scenario), {
    connections,
    warmupMs: options.warmupS * 1000,
    durationMs: options.durationS * 1000,
    signal: abort.signal,
  });
  const loadEndedAt = performance.now();
  const cpuShare = cpu();

  let ingest: IngestResult | null = null;
  if (watcher) {
    const drain = await waitForDrain({
      sql: stack.sql,
      metricsUrl: stack.workerMetricsUrl,
      baseline,
      expected: load.totalSent,
      loadStartedAt,
      loadEndedAt,
      seen: watcher.peek(),
      timeoutMs: 60_000,
      signal: abort.signal,
    });
    const lag = await watcher.stop();
    ingest = {
      ...drain,
      maxQueueLagS: lag.maxLagS,
      maxWaiting: lag.maxWaiting,
      scrapes: lag.scrapes,
      scrapeFailures: lag.failures,
    };
  }
  return {
    result: { scenario, ...load, cpu: cpuShare, ingest },
    measuredUs: { fromUs: measuredFromUs, toUs: measuredFromUs + load.durationS * 1e6 },
  };
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const measured = revision();
  const profileDir = options.profile
    ? join(outDir, "profiles", startedAt.replace(/[:.]/g, "-"))
    : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  log("starting PostgreSQL, Redis, API, fake provider, worker and proxy");
  const t0 = performance.now();
  const stack = await startStack(root, cleanup, { profileDir });
  log(`stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (abort.signal.aborted) return;

  const results: ScenarioResult[] = [];
  // The proxy-json measured windows, to keep start-up and other scenarios out of the profile.
  const profileWindows: Window[] = [];
  for (const connections of options.connections) {
    for (const scenario of options.scenarios) {
      if (abort.signal.aborted) break;
      log(`${scenario} with ${connections} connections`);
      const { result: r, measuredUs } = await runScenario(stack, scenario, connections);
      if (scenario === "proxy-json") profileWindows.push(measuredUs);
      results.push(r);
      const extra = r.ingest
        ? `; ${r.ingest.ingested}/${r.ingest.expected} events landed, drained ${r.ingest.drainS.toFixed(2)} s after the load`
        : "";
      log(
        `  ${r.reqPerS.toFixed(0)} req/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, ${r.errors} errors${extra}`,
      );
    }
  }

  let profile = null;
  if (profileDir) {
    log("stopping the proxy to write its CPU profile");
    await stack.stopProxy();
    profile = loadSummary(profileDir, 10, profileWindows.length > 0 ? profileWindows : null);
  }

  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    interrupted: abort.signal.aborted,
    options,
    machine: {
      cpus: availableParallelism(),
      node: process.versions.node,
      platform: process.platform,
    },
    revision: measured,
    results,
    overhead: computeOverhead(results),
    profile,
  };
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, "last.json");
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatReport(report)}\n`);
  if (profile) process.stdout.write(`\n${formatProfileSummary(profile)}\n`);
  process.stdout.write(`\nJSON: ${relative(process.cwd(), jsonPath) || jsonPath}\n`);
  if (abort.signal.aborted) process.stdout.write("(interrupted: partial results)\n");
}

let exitCode = 0;
try {
  await main();
  if (abort.signal.aborted) exitCode = 130;
} catch (err) {
  process.stderr.write(
    `bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  exitCode = abort.signal.aborted ? 130 : 1;
} finally {
  log("cleaning up");
  await cleanup.run();
}
process.exit(exitCode);
