import type { BenchOptions, KindName, TargetName } from "./args.ts";
import type { IngestCapacity } from "./ingest-capacity.ts";
import type { LatencySummary } from "./latency.ts";
import type { LoadResult } from "./load.ts";
import type { ProfileSummary } from "./profile-summary.ts";
import type { CommandCounts } from "./redis-probe.ts";
import type { ScaleOutRun } from "./scale-out.ts";
import type { SoakResult } from "./soak.ts";
import type { StatementCost } from "./statements.ts";
import type { DrainResult } from "./worker-probe.ts";

export type IngestResult = DrainResult & {
  maxQueueLagS: number;
  maxWaiting: number;
  scrapes: number;
  scrapeFailures: number;
};

export type RunResult = LoadResult & {
  target: TargetName;
  kind: KindName;
  round: number;
  cpu: {
    /** The reading's span: warm-up, measured window and (osm) the worker's drain. */
    wallS: number;
    /** % of one core the machine spent beyond the bench's processes: other work. */
    otherPct: number | null;
    /** CPU µs per request sent, per process, over the whole reading. */
    perRequestUs: Record<string, number>;
  };
  redis: {
    commandsPerRequest: number;
    byCommand: Record<string, number>;
    roundTripsPerRequest: Record<string, number>;
  } | null;
  /** osm only: how the worker kept up with the usage events. */
  ingest: IngestResult | null;
};

/** A run is noisy when other work took this much of a core, or its req/s strays this far. */
const noisyOtherPct = 25;
const noisySpread = 0.2;

export type Summary = {
  target: TargetName;
  kind: KindName;
  connections: number;
  rounds: number;
  noisyRounds: number[];
  reqPerS: number;
  /** (max − min) ÷ median of req/s over the rounds. */
  reqPerSSpread: number;
  p50Ms: number;
  p99Ms: number;
  firstByteP50Ms: number | null;
  firstByteP99Ms: number | null;
  otherPct: number | null;
  /** Medians of CPU µs per request, per process. */
  perRequestUs: Record<string, number>;
  /** The gateway process alone: proxy, floor or Portkey. */
  gatewayUs: number | null;
  /** The gateway plus what persists for it: proxy + worker + Redis + PostgreSQL for osm. */
  stackUs: number | null;
  roundTrips: Record<string, number> | null;
  redisCommandsPerRequest: number | null;
  ingest: { eventsPerS: number; maxQueueLagS: number; drainS: number; complete: boolean } | null;
};

export type BenchReport = {
  startedAt: string;
  finishedAt: string;
  interrupted: boolean;
  options: BenchOptions;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    kernel: string;
    node: string;
    platform: string;
    loadAverageAtStart: number[];
    pinned: boolean;
    proxyEntry: string | null;
  };
  revision: { commit: string | null; dirty: boolean | null };
  portkeySkipped: string | null;
  results: RunResult[];
  summary: Summary[];
  profile: ProfileSummary | null;
  workerProfile?: ProfileSummary | null;
  scaleOut?: ScaleOutRun[] | null;
  soak?: SoakResult | null;
  ingestCapacity?: IngestCapacity | null;
  statements: StatementCost[] | null;
  commandStats: CommandCounts | null;
  /** With --profile: Redis's µs per command since start. */
  commandUsec?: CommandCounts | null;
};

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const gatewayProcess: Record<TargetName, string | null> = {
  direct: null,
  floor: "floor",
  osm: "proxy",
  portkey: "portkey",
};
const stackProcesses: Record<TargetName, string[]> = {
  direct: [],
  floor: ["floor"],
  osm: ["proxy", "worker", "redis", "postgres"],
  portkey: ["portkey"],
};

function medianOf(runs: readonly RunResult[], pick: (r: RunResult) => number | null | undefined) {
  const values = runs.map(pick).filter((v): v is number => typeof v === "number");
  return values.length > 0 ? median(values) : null;
}

export function summarise(results: readonly RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const id = `${r.target}|${r.kind}|${r.connections}`;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  return [...groups.values()].map((runs) => {
    const first = runs[0]!;
    const reqPerS = median(runs.map((r) => r.reqPerS));
    const spread =
      reqPerS > 0
        ? (Math.max(...runs.map((r) => r.reqPerS)) - Math.min(...runs.map((r) => r.reqPerS))) /
          reqPerS
        : 0;
    const noisyRounds = runs
      .filter(
        (r) =>
          (r.cpu.otherPct ?? 0) > noisyOtherPct ||
          (reqPerS > 0 && Math.abs(r.reqPerS - reqPerS) / reqPerS > noisySpread),
      )
      .map((r) => r.round);
    const names = new Set(runs.flatMap((r) => Object.keys(r.cpu.perRequestUs)));
    const perRequestUs: Record<string, number> = {};
    for (const name of names)
      perRequestUs[name] = medianOf(runs, (r) => r.cpu.perRequestUs[name]) ?? 0;
    const gateway = gatewayProcess[first.target];
    const stackNames = stackProcesses[first.target];
    const phases = new Set(runs.flatMap((r) => Object.keys(r.redis?.roundTripsPerRequest ?? {})));
    const roundTrips: Record<string, number> = {};
    for (const phase of phases)
      roundTrips[phase] = medianOf(runs, (r) => r.redis?.roundTripsPerRequest[phase]) ?? 0;
    const ingests = runs.filter((r) => r.ingest);
    return {
      target: first.target,
      kind: first.kind,
      connections: first.connections,
      rounds: runs.length,
      noisyRounds,
      reqPerS,
      reqPerSSpread: spread,
      p50Ms: median(runs.map((r) => r.latency.p50Ms)),
      p99Ms: median(runs.map((r) => r.latency.p99Ms)),
      firstByteP50Ms: medianOf(runs, (r) => r.firstByte?.p50Ms),
      firstByteP99Ms: medianOf(runs, (r) => r.firstByte?.p99Ms),
      otherPct: medianOf(runs, (r) => r.cpu.otherPct),
      perRequestUs,
      gatewayUs: gateway ? (perRequestUs[gateway] ?? null) : null,
      stackUs:
        stackNames.length > 0 ? stackNames.reduce((a, n) => a + (perRequestUs[n] ?? 0), 0) : null,
      roundTrips: phases.size > 0 ? roundTrips : null,
      redisCommandsPerRequest: medianOf(runs, (r) => r.redis?.commandsPerRequest),
      ingest:
        ingests.length > 0
          ? {
              eventsPerS: median(ingests.map((r) => r.ingest!.eventsPerS)),
              maxQueueLagS: Math.max(...ingests.map((r) => r.ingest!.maxQueueLagS)),
              drainS: median(ingests.map((r) => r.ingest!.drainS)),
              complete: ingests.every((r) => r.ingest!.complete),
            }
          : null,
    };
  });
}

const ms = (v: number | null) =>
  v === null ? "-" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const us = (v: number | null) => (v === null ? "-" : v.toFixed(0));
const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? "-" : `${(a / b).toFixed(2)}×`;

export function formatReport(report: BenchReport): string {
  const { options, machine } = report;
  const lines = [
    `## osm bench — ${report.startedAt}`,
    "",
    `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; load average at start ${machine.loadAverageAtStart.join(" / ")}; ${machine.pinned ? "gateways pinned to core 0, load generator, fake provider, worker, Redis and PostgreSQL to core 1" : "not pinned"}; proxy ${machine.proxyEntry ?? "?"}; commit ${report.revision.commit?.slice(0, 7) ?? "unknown"}${report.revision.dirty ? " + uncommitted changes" : ""}.`,
    `${options.rounds} interleaved round(s) of ${options.warmupS} s warm-up + ${options.durationS} s measured per run; medians shown. Closed loop, one request in flight per connection; latencies in ms; CPU in µs per request from /proc over warm-up, load and (osm) the worker's drain. "noisy" lists rounds where other work took > ${noisyOtherPct}% of a core or req/s strayed > ${noisySpread * 100}% from the median.`,
  ];
  if (report.portkeySkipped) lines.push("", `Portkey skipped: ${report.portkeySkipped}.`);
  lines.push(
    "",
    "| kind | conns | target | req/s | ÷ floor | p50 | p99 | TTFB p50 | TTFB p99 | gateway µs/req | ÷ floor | stack µs/req | ÷ floor | other % | noisy |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const s of report.summary) {
    const floor = report.summary.find(
      (f) => f.target === "floor" && f.kind === s.kind && f.connections === s.connections,
    );
    lines.push(
      `| ${s.kind} | ${s.connections} | ${s.target} | ${s.reqPerS.toFixed(0)} | ${ratio(s.reqPerS, floor?.reqPerS ?? null)} | ${ms(s.p50Ms)} | ${ms(s.p99Ms)} | ${ms(s.firstByteP50Ms)} | ${ms(s.firstByteP99Ms)} | ${us(s.gatewayUs)} | ${ratio(s.gatewayUs, floor?.gatewayUs ?? null)} | ${us(s.stackUs)} | ${ratio(s.stackUs, floor?.gatewayUs ?? null)} | ${s.otherPct === null ? "-" : s.otherPct.toFixed(0)} | ${s.noisyRounds.length > 0 ? s.noisyRounds.join(",") : ""} |`,
    );
  }
  const osm = report.summary.filter((s) => s.target === "osm");
  if (osm.length > 0) {
    lines.push(
      "",
      "osm per process (µs of CPU per request, drain included), Redis and ingest:",
      "",
      "| kind | conns | proxy | worker | Redis | PostgreSQL | stack | Redis round trips/req (proxy, by phase) | Redis commands/req (all) | ingest events/s | max queue lag | drain after load |",
      "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    );
    for (const s of osm) {
      const trips = s.roundTrips
        ? Object.entries(s.roundTrips)
            .map(([phase, n]) => `${phase} ${n.toFixed(2)}`)
            .join(", ")
        : "-";
      lines.push(
        `| ${s.kind} | ${s.connections} | ${us(s.perRequestUs.proxy ?? null)} | ${us(s.perRequestUs.worker ?? null)} | ${us(s.perRequestUs.redis ?? null)} | ${us(s.perRequestUs.postgres ?? null)} | ${us(s.stackUs)} | ${trips} | ${s.redisCommandsPerRequest?.toFixed(1) ?? "-"} | ${s.ingest ? s.ingest.eventsPerS.toFixed(0) : "-"}${s.ingest && !s.ingest.complete ? " (incomplete)" : ""} | ${s.ingest ? `${s.ingest.maxQueueLagS.toFixed(2)} s` : "-"} | ${s.ingest ? `${s.ingest.drainS.toFixed(2)} s` : "-"} |`,
      );
    }
  }
  lines.push("", "Targets (issue 11), from the medians above:", "");
  for (const s of osm) {
    const floor = report.summary.find(
      (f) => f.target === "floor" && f.kind === s.kind && f.connections === s.connections,
    );
    const direct = report.summary.find(
      (f) => f.target === "direct" && f.kind === s.kind && f.connections === s.connections,
    );
    const portkey = report.summary.find(
      (f) => f.target === "portkey" && f.kind === s.kind && f.connections === s.connections,
    );
    const at = `${s.kind} ×${s.connections}`;
    const check = (ok: boolean | null) => (ok === null ? "?" : ok ? "met" : "missed");
    if (floor?.gatewayUs && s.stackUs !== null)
      lines.push(
        `- ${at}: 1. stack CPU ${us(s.stackUs)} µs = ${(s.stackUs / floor.gatewayUs).toFixed(2)}× the floor's ${us(floor.gatewayUs)} µs (≤ 3×: ${check(s.stackUs <= 3 * floor.gatewayUs)})`,
      );
    if (floor?.gatewayUs && s.gatewayUs !== null)
      lines.push(
        `- ${at}: 2. proxy CPU ${(s.gatewayUs / floor.gatewayUs).toFixed(2)}× the floor's (≤ 1.5×: ${check(s.gatewayUs <= 1.5 * floor.gatewayUs)}); req/s ${((100 * s.reqPerS) / floor.reqPerS).toFixed(0)}% of the floor's (≥ 70%: ${check(s.reqPerS >= 0.7 * floor.reqPerS)})`,
      );
    if (floor && direct && s.connections === 1)
      lines.push(
        `- ${at}: 3. added p50 ${ms(s.p50Ms - direct.p50Ms)} ms vs the floor's ${ms(floor.p50Ms - direct.p50Ms)} ms (≤ floor + 0.25: ${check(s.p50Ms - direct.p50Ms <= floor.p50Ms - direct.p50Ms + 0.25)})`,
      );
    if (s.ingest)
      lines.push(
        `- ${at}: 4. ingest ${s.ingest.eventsPerS.toFixed(0)} events/s over the run for ${s.reqPerS.toFixed(0)} req/s offered; max queue lag ${s.ingest.maxQueueLagS.toFixed(2)} s, drained ${s.ingest.drainS.toFixed(2)} s after the load`,
      );
    if (portkey)
      lines.push(
        `- ${at}: 5. ${(s.reqPerS / portkey.reqPerS).toFixed(1)}× Portkey's req/s (≥ 10×: ${check(s.reqPerS >= 10 * portkey.reqPerS)})`,
      );
  }
  return lines.join("\n");
}

export type { LatencySummary };
