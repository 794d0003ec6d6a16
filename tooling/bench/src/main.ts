import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { type KindName, parseArgs, type TargetName, usage } from "./args.ts";
import { latencyChart } from "./chart.ts";
import {
  formatIngestCapacity,
  type IngestCapacity,
  measureIngestCapacity,
} from "./ingest-capacity.ts";
import { type LoadTarget, runLoad } from "./load.ts";
import { startCpuReading } from "./meter.ts";
import { formatProfileSummary, loadSummary, type Window } from "./profile-summary.ts";
import {
  commandStats,
  commandTimes,
  connectRedis,
  diffCounts,
  proxyRoundTrips,
} from "./redis-probe.ts";
import {
  type BenchReport,
  formatReport,
  type IngestResult,
  type RunResult,
  summarise,
} from "./report.ts";
import { formatScaleOut, measureScaleOut, type ScaleOutRun } from "./scale-out.ts";
import { seedKeys } from "./seed-keys.ts";
import { formatSoak, runSoak, type SoakResult } from "./soak.ts";
import { type BenchStack, Cleanup, startStack } from "./stack.ts";
import { topStatements } from "./statements.ts";
import { ledgerCount, waitForDrain, watchIngest } from "./worker-probe.ts";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const outDir = join(root, ".data/bench");
const recordDir = join(root, "docs/bench");

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

const loadAtStart = loadavg();
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function loadTarget(
  stack: BenchStack,
  target: TargetName,
  kind: KindName,
  origin?: string,
): LoadTarget {
  const stream = kind === "stream";
  // The same client request to every target: the differences are what each gateway adds.
  const body = JSON.stringify({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Say hello to the benchmark." }],
    ...(stream ? { stream: true } : {}),
  });
  const upstreamKey = "Bearer sk-bench-upstream";
  const origins: Record<TargetName, string | null> = {
    direct: stack.fakeUrl,
    floor: stack.floorUrl,
    osm: stack.proxyUrl,
    portkey: stack.portkeyUrl,
  };
  const headers: Record<string, string> = {
    authorization: target === "osm" ? `Bearer ${stack.secret}` : upstreamKey,
    "content-type": "application/json",
  };
  if (target === "portkey") {
    headers["x-portkey-provider"] = "openai";
    headers["x-portkey-custom-host"] = `${stack.fakeUrl}/v1`;
  }
  return {
    origin: origin ?? origins[target]!,
    path: "/v1/chat/completions",
    headers,
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

function machine(stack: BenchStack | null): BenchReport["machine"] {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {
    // not Linux
  }
  return {
    // Not availableParallelism(): this process is pinned to one core by now.
    cpus: cpus().length,
    cpuModel: model.trim(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.versions.node,
    platform: process.platform,
    loadAverageAtStart: loadAtStart.map((v) => Number(v.toFixed(2))),
    pinned: stack?.pinned ?? false,
    proxyEntry: stack?.proxyEntry ?? null,
  };
}

/** Round trips the proxy made per request, by phase, and Redis commands per request overall. */
async function redisPerRequest(
  stack: BenchStack,
  redis: ReturnType<typeof connectRedis>,
  run: () => Promise<number>,
) {
  const [statsBefore, tripsBefore] = await Promise.all([
    commandStats(redis),
    proxyRoundTrips(stack.proxyMetricsUrl),
  ]);
  const sent = await run();
  const [statsAfter, tripsAfter] = await Promise.all([
    commandStats(redis),
    proxyRoundTrips(stack.proxyMetricsUrl),
  ]);
  // The probe's own INFO call is not the stack's.
  const commands = diffCounts(statsBefore, statsAfter);
  commands.info = Math.max(0, (commands.info ?? 0) - 1);
  const total = Object.values(commands).reduce((a, b) => a + b, 0);
  const per = (n: number) => (sent > 0 ? n / sent : 0);
  const trips: Record<string, number> = {};
  if (tripsBefore && tripsAfter)
    for (const [phase, n] of Object.entries(tripsAfter))
      trips[phase] = per(n - (tripsBefore[phase] ?? 0));
  return {
    commandsPerRequest: per(total),
    byCommand: Object.fromEntries(
      Object.entries(commands)
        .sort(([, a], [, b]) => b - a)
        .slice(0, 12)
        .map(([name, n]) => [name, Number(per(n).toFixed(3))]),
    ),
    roundTripsPerRequest: trips,
  };
}

async function measure(
  stack: BenchStack,
  redis: ReturnType<typeof connectRedis>,
  target: TargetName,
  kind: KindName,
  connections: number,
  round: number,
): Promise<{ result: RunResult; measuredUs: Window }> {
  const persists = target === "osm";
  const baseline = persists ? await ledgerCount(stack.sql, stack.keyId) : 0;
  // Twice a second: each scrape costs the worker and Redis a little, and that is measured too.
  const watcher = persists
    ? watchIngest(stack.sql, stack.keyId, stack.workerMetricsUrl, 500)
    : null;
  const cpu = startCpuReading(stack);
  const loadStartedAt = performance.now();
  const measuredFromUs = Number(process.hrtime.bigint() / 1000n) + options.warmupS * 1e6;
  let load: Awaited<ReturnType<typeof runLoad>> | null = null;
  let ingest: IngestResult | null = null;
  const redisFigures = await redisPerRequest(stack, redis, async () => {
    load = await runLoad(loadTarget(stack, target, kind), {
      connections,
      warmupMs: options.warmupS * 1000,
      durationMs: options.durationS * 1000,
      signal: abort.signal,
    });
    const loadEndedAt = performance.now();
    if (watcher) {
      // The CPU reading runs on through the drain: the worker's catch-up is part of the cost.
      const drain = await waitForDrain({
        sql: stack.sql,
        keyId: stack.keyId,
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
    return load.totalSent;
  });
  const reading = cpu();
  const done = load as unknown as Awaited<ReturnType<typeof runLoad>>;
  const perRequestUs: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(reading.seconds))
    perRequestUs[name] = done.totalSent > 0 ? (seconds * 1e6) / done.totalSent : 0;
  return {
    result: {
      target,
      kind,
      round,
      ...done,
      cpu: { wallS: reading.wallS, otherPct: reading.otherPct, perRequestUs },
      redis: persists ? redisFigures : null,
      ingest,
    },
    measuredUs: { fromUs: measuredFromUs, toUs: measuredFromUs + done.durationS * 1e6 },
  };
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const measured = revision();
  const profileDir = options.profile
    ? join(outDir, "profiles", startedAt.replace(/[:.]/g, "-"))
    : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  log("starting PostgreSQL, Redis, API, fake provider, worker, proxy, floor and Portkey");
  const t0 = performance.now();
  // Scale-out, soak and ingest capacity replace the interleaved rounds.
  const special = options.proxies !== null || options.soakS !== null || options.ingestS !== null;
  const stack = await startStack(root, cleanup, {
    profileDir,
    pin: options.pin,
    portkey: options.targets.includes("portkey") && !special,
    pgStatements: options.profile,
    proxies: Math.max(...(options.proxies ?? [1])),
  });
  log(
    `stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s (${stack.pinned ? "gateways pinned to core 0, the rest to core 1" : "not pinned"}; proxy: ${stack.proxyEntry})`,
  );
  const redis = connectRedis(stack.redisUrl);
  cleanup.add("redis probe", () => redis.quit());
  if (abort.signal.aborted) return;

  const targets = options.targets.filter((t) => t !== "portkey" || stack.portkeyUrl !== null);
  const results: RunResult[] = [];
  const profileWindows: Window[] = [];
  const scaleOut: ScaleOutRun[] = [];
  for (const connections of options.proxies ? options.connections : [])
    for (const proxies of options.proxies ?? []) {
      if (abort.signal.aborted) break;
      const r = await measureScaleOut(
        stack,
        redis,
        (origin) => loadTarget(stack, "osm", "json", origin),
        {
          proxies,
          connections,
          warmupMs: options.warmupS * 1000,
          durationMs: options.durationS * 1000,
        },
        abort.signal,
      );
      scaleOut.push(r);
      log(
        `scale-out ${proxies} prox${proxies === 1 ? "y" : "ies"} ×${r.connections}: ${r.reqPerS.toFixed(0)} req/s, stack ${r.stackUs.toFixed(0)} µs/req, ${r.redisCommandsPerRequest.toFixed(1)} Redis commands/req`,
      );
    }
  let soak: SoakResult | null = null;
  if (options.soakS !== null && !abort.signal.aborted) {
    const seededAt = performance.now();
    const secrets = await seedKeys(stack.sql, stack.projectId, options.keys);
    log(
      `${options.keys} keys seeded in ${((performance.now() - seededAt) / 1000).toFixed(1)} s; soaking for ${options.soakS} s`,
    );
    soak = await runSoak(
      stack,
      { ...loadTarget(stack, "osm", "json"), secrets },
      {
        durationS: options.soakS,
        connections: options.connections[0]!,
        keys: options.keys,
        sampleEveryS: 5,
      },
      abort.signal,
    );
  }
  let ingestCapacity: IngestCapacity | null = null;
  if (options.ingestS !== null && !abort.signal.aborted) {
    ingestCapacity = await measureIngestCapacity(
      stack,
      loadTarget(stack, "osm", "json"),
      { loadS: options.ingestS, connections: options.connections[0]! },
      abort.signal,
    );
    log(
      `ingest capacity: ${ingestCapacity.ingestEventsPerS.toFixed(0)} events/s against a peak of ${ingestCapacity.peakEventsPerS.toFixed(0)} (${ingestCapacity.ratio.toFixed(2)}×)`,
    );
  }
  for (let round = 1; round <= (special ? 0 : options.rounds); round++) {
    for (const connections of options.connections) {
      for (const kind of options.kinds) {
        // Rotated each round, so no target always runs right after the same neighbour.
        const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
        for (const target of order) {
          if (abort.signal.aborted) break;
          const { result: r, measuredUs } = await measure(
            stack,
            redis,
            target,
            kind,
            connections,
            round,
          );
          if (target === "osm") profileWindows.push(measuredUs);
          results.push(r);
          const stackUs = ["proxy", "worker", "redis", "postgres"]
            .map((n) => r.cpu.perRequestUs[n] ?? 0)
            .reduce((a, b) => a + b, 0);
          log(
            `round ${round} ${target} ${kind} ×${connections}: ${r.reqPerS.toFixed(0)} req/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, ${r.errors} errors${target === "osm" ? `, stack ${stackUs.toFixed(0)} µs/req` : ""}, other ${r.cpu.otherPct?.toFixed(0) ?? "-"}%`,
          );
        }
      }
    }
  }

  let profile = null;
  let workerProfile = null;
  let statements = null;
  let commands = null;
  let commandUsec = null;
  if (options.profile) {
    statements = await topStatements(stack.sql, 12).catch(() => null);
    commands = await commandStats(redis);
    commandUsec = await commandTimes(redis);
    log("stopping the proxy to write its CPU profile");
    await stack.stopProxy();
    profile = loadSummary(profileDir!, 15, profileWindows.length > 0 ? profileWindows : null);
    log("stopping the worker to write its CPU profile");
    await stack.stopWorker();
    // The worker's drain runs past each load window, so its whole profile is summarised.
    workerProfile = loadSummary(join(profileDir!, "worker"), 15, null);
  }

  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    interrupted: abort.signal.aborted,
    options,
    machine: machine(stack),
    revision: measured,
    portkeySkipped: stack.portkeySkipped,
    results,
    summary: summarise(results),
    profile,
    workerProfile,
    scaleOut: scaleOut.length > 0 ? scaleOut : null,
    soak,
    ingestCapacity,
    statements,
    commandStats: commands,
    commandUsec,
  };
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, "last.json");
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const text = [
    ...(special ? [] : [formatReport(report)]),
    ...(scaleOut.length > 0 ? [formatScaleOut(scaleOut, [1, 2, 4, 8])] : []),
    ...(soak ? [formatSoak(soak)] : []),
    ...(ingestCapacity ? [formatIngestCapacity(ingestCapacity)] : []),
  ].join("\n\n");
  process.stdout.write(`\n${text}\n`);
  if (profile) process.stdout.write(`\nProxy:\n${formatProfileSummary(profile)}\n`);
  if (workerProfile) process.stdout.write(`\nWorker:\n${formatProfileSummary(workerProfile)}\n`);
  if (statements) {
    process.stdout.write("\npg_stat_statements, by total time:\n\n");
    for (const s of statements)
      process.stdout.write(
        `- ${s.calls} calls, ${s.totalMs.toFixed(0)} ms, ${s.rows} rows: ${s.query}\n`,
      );
  }
  if (commands) {
    const top = Object.entries(commands)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 15);
    process.stdout.write(
      `\nRedis commandstats (calls since start): ${top.map(([n, c]) => `${n} ${c}`).join(", ")}\n`,
    );
  }
  if (commandUsec) {
    const top = Object.entries(commandUsec)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 15);
    process.stdout.write(
      `\nRedis time by command (ms since start, scripts include their inner commands): ${top.map(([n, us]) => `${n} ${(us / 1000).toFixed(1)}`).join(", ")}\n`,
    );
  }
  process.stdout.write(`\nJSON: ${relative(process.cwd(), jsonPath) || jsonPath}\n`);
  if (options.record) {
    mkdirSync(recordDir, { recursive: true });
    // A scale-out, soak or ingest run is recorded beside the rounds' figures, not over them.
    const name = soak ? "soak" : ingestCapacity ? "ingest" : special ? "scale-out" : "results";
    writeFileSync(join(recordDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(recordDir, `${name}.md`), `${text}\n`);
    if (!special) writeFileSync(join(recordDir, "latency.svg"), latencyChart(report));
    process.stdout.write(`Recorded under ${relative(process.cwd(), recordDir)}/\n`);
  }
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
