import type { BenchOptions, ScenarioName } from "./args.ts";
import type { LoadResult } from "./load.ts";
import type { ProfileSummary } from "./profile-summary.ts";
import type { DrainResult } from "./worker-probe.ts";

export type CpuShare = {
  /** Percent of one core over the scenario (warm-up included); null where /proc is missing. */
  loadGenerator: number;
  fakeProvider: number | null;
  proxy: number | null;
  worker: number | null;
  /** PostgreSQL and Redis together. */
  services: number | null;
  /** What the machine spent beyond the processes above: other work sharing the cores. */
  other: number | null;
  /** Every process on the machine (PostgreSQL and Redis included), percent of all cores. */
  machine: number | null;
};

export type IngestResult = DrainResult & {
  maxQueueLagS: number;
  maxWaiting: number;
  scrapes: number;
  scrapeFailures: number;
};

export type ScenarioResult = LoadResult & {
  scenario: ScenarioName;
  cpu: CpuShare;
  /** Proxy scenarios only: how the worker kept up with the usage events they produced. */
  ingest: IngestResult | null;
};

export type Overhead = {
  connections: number;
  kind: "json" | "stream";
  p50AddedMs: number;
  p99AddedMs: number;
  firstByteP50AddedMs: number | null;
  /** Proxy req/s over direct req/s at the same concurrency. */
  throughputRatio: number;
};

export type BenchReport = {
  startedAt: string;
  finishedAt: string;
  /** A signal cut the run short: the last scenario's figures cover less than its window. */
  interrupted: boolean;
  options: BenchOptions;
  machine: { cpus: number; node: string; platform: string };
  /** The code measured: HEAD, and whether apps/ or packages/ had uncommitted changes. */
  revision: { commit: string | null; dirty: boolean | null };
  results: ScenarioResult[];
  overhead: Overhead[];
  profile: ProfileSummary | null;
};

export function computeOverhead(results: readonly ScenarioResult[]): Overhead[] {
  const out: Overhead[] = [];
  for (const proxied of results) {
    const kind = proxied.scenario === "proxy-json" ? "json" : "stream";
    if (!proxied.scenario.startsWith("proxy-")) continue;
    const direct = results.find(
      (r) => r.scenario === `direct-${kind}` && r.connections === proxied.connections,
    );
    if (!direct) continue;
    out.push({
      connections: proxied.connections,
      kind,
      p50AddedMs: proxied.latency.p50Ms - direct.latency.p50Ms,
      p99AddedMs: proxied.latency.p99Ms - direct.latency.p99Ms,
      firstByteP50AddedMs:
        proxied.firstByte && direct.firstByte
          ? proxied.firstByte.p50Ms - direct.firstByte.p50Ms
          : null,
      throughputRatio: direct.reqPerS > 0 ? proxied.reqPerS / direct.reqPerS : 0,
    });
  }
  return out;
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const signedMs = (v: number) => `${v >= 0 ? "+" : ""}${ms(v)}`;
const pct = (v: number | null) => (v === null ? "-" : `${v.toFixed(0)}%`);

export function formatReport(report: BenchReport): string {
  const { options, machine } = report;
  const lines = [
    `## osm bench — ${report.startedAt}`,
    "",
    `${machine.cpus} CPUs, Node ${machine.node}, commit ${report.revision.commit?.slice(0, 7) ?? "unknown"}${report.revision.dirty ? " + uncommitted changes" : ""}; ${options.durationS} s measured after ${options.warmupS} s warm-up per scenario; closed loop, one request in flight per connection. Latencies in ms. CPU over each whole scenario in % of one core; "other" is what the machine spent beyond the bench's own processes (other work sharing the cores skews every figure).`,
    "",
    "| scenario | conns | req/s | p50 | p90 | p99 | max | TTFB p50 | TTFB p99 | errors | CPU % of a core: gen / fake / proxy / worker / pg+redis / other |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of report.results) {
    const errors =
      r.errors === 0
        ? "0"
        : `${r.errors} (${Object.entries(r.errorKinds)
            .map(([k, n]) => `${k}: ${n}`)
            .join(", ")})`;
    lines.push(
      `| ${r.scenario} | ${r.connections} | ${r.reqPerS.toFixed(0)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p90Ms)} | ${ms(r.latency.p99Ms)} | ${ms(r.latency.maxMs)} | ${r.firstByte ? ms(r.firstByte.p50Ms) : "-"} | ${r.firstByte ? ms(r.firstByte.p99Ms) : "-"} | ${errors} | ${pct(r.cpu.loadGenerator)} / ${pct(r.cpu.fakeProvider)} / ${pct(r.cpu.proxy)} / ${pct(r.cpu.worker)} / ${pct(r.cpu.services)} / ${pct(r.cpu.other)} |`,
    );
  }
  if (report.overhead.length > 0) {
    lines.push(
      "",
      "Proxy added latency (proxy minus direct, same concurrency):",
      "",
      "| kind | conns | p50 added | p99 added | TTFB p50 added | req/s proxy ÷ direct |",
      "|---|---:|---:|---:|---:|---:|",
      ...report.overhead.map(
        (o) =>
          `| ${o.kind} | ${o.connections} | ${signedMs(o.p50AddedMs)} | ${signedMs(o.p99AddedMs)} | ${o.firstByteP50AddedMs === null ? "-" : signedMs(o.firstByteP50AddedMs)} | ${o.throughputRatio.toFixed(2)} |`,
      ),
    );
  }
  const ingests = report.results.filter((r) => r.ingest);
  if (ingests.length > 0) {
    lines.push(
      "",
      "Usage ingest (worker), from the start of each proxy scenario (warm-up included) until its last ledger row:",
      "",
      "| scenario | conns | events sent | rows landed | events/s | max queue lag | max waiting jobs | drain after load |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...ingests.map((r) => {
        const i = r.ingest!;
        return `| ${r.scenario} | ${r.connections} | ${i.expected} | ${i.ingested}${i.complete ? "" : " (incomplete)"} | ${i.eventsPerS.toFixed(0)} | ${i.maxQueueLagS.toFixed(2)} s | ${i.maxWaiting} | ${i.drainS.toFixed(2)} s |`;
      }),
    );
  }
  return lines.join("\n");
}
