export const targetNames = ["direct", "floor", "osm", "portkey"] as const;
export type TargetName = (typeof targetNames)[number];
export const kindNames = ["json", "stream"] as const;
export type KindName = (typeof kindNames)[number];

export type BenchOptions = {
  durationS: number;
  warmupS: number;
  connections: number[];
  targets: TargetName[];
  kinds: KindName[];
  /** Interleaved rounds: every (target, kind, connections) once per round; medians reported. */
  rounds: number;
  /** Gateways on core 0, everything else on core 1 (taskset). */
  pin: boolean;
  /** Run the proxy child under `--cpu-prof`, print its top self-time functions, Redis and SQL. */
  profile: boolean;
  /** Also write the figures and the latency chart under docs/bench/. */
  record: boolean;
  quick: boolean;
  help: boolean;
  /** Scale-out: osm json with its load spread over each of these numbers of proxies. */
  proxies: number[] | null;
  /** Soak: seconds of full load on osm json, the proxy's RSS sampled (replaces the rounds). */
  soakS: number | null;
  /** Ingest capacity: seconds of osm json load with the worker stopped, then its drain timed. */
  ingestS: number | null;
  /** Keys seeded for the soak, each request with the next one. */
  keys: number;
};

export const usage = `usage: pnpm bench [--quick] [--duration=SECONDS] [--warmup=SECONDS] [--rounds=N]
                  [--connections=N[,N...]] [--targets=NAME[,NAME...]] [--kinds=json,stream]
                  [--no-pin] [--profile] [--record] [--proxies=N[,N...]]
                  [--soak=SECONDS [--keys=N]] [--ingest=SECONDS]
  --duration     measured seconds per run (default 5; --quick: 2)
  --warmup       unmeasured seconds before each run (default 1; --quick: 0.5)
  --rounds       interleaved rounds, medians reported (default 3; --quick and --profile: 1)
  --connections  load generator connections, a comma list runs each (default 50,1)
  --targets      ${targetNames.join(", ")} (default: all; --profile: osm)
  --kinds        ${kindNames.join(", ")} (default: both; --profile: json)
  --no-pin       do not pin the gateways to core 0 and everything else to core 1
  --profile      CPU-profile the proxy; Redis commandstats and pg_stat_statements top entries
  --record       also write docs/bench/results.json and docs/bench/latency.svg
  --proxies      scale-out instead of the rounds: osm json over 1..4 proxy processes, each
                 count once per --connections value (e.g. --proxies=1,2)
  --soak         soak instead of the rounds: osm json for SECONDS at the first --connections
                 value, the proxy's RSS sampled every 5 s (e.g. --soak=300 --keys=100000)
  --keys         keys seeded for the soak, requests spread over them (default 100000)
  --ingest       ingest capacity instead of the rounds: osm json for SECONDS at the first
                 --connections value with the worker stopped, then a fresh worker's drain of
                 the backlog timed (events/s on one core against the proxy's peak)`;

export type ParsedArgs = { ok: true; options: BenchOptions } | { ok: false; line: string };

const valued = [
  "duration",
  "warmup",
  "rounds",
  "connections",
  "targets",
  "kinds",
  "proxies",
  "soak",
  "keys",
  "ingest",
];
const switches = ["no-pin", "profile", "record", "quick", "help"];

function positive(name: string, value: string | undefined): number | string {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n) || n <= 0)
    return `--${name} must be a positive number, got "${value ?? ""}"`;
  return n;
}

function list<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
): T[] | string {
  const items = (raw ?? "").split(",").map((s) => s.trim());
  const unknown = items.filter((s) => !allowed.some((n) => n === s));
  if (items.length === 0 || unknown.length > 0)
    return `--${name} takes ${allowed.join(", ")}; got "${raw ?? ""}"`;
  // The canonical order, so each gateway runs next to its baseline.
  return allowed.filter((n) => items.includes(n));
}

/** Accepts `--flag=value` and `--flag value`; a lone `--` (pnpm's separator) is skipped. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Map<string, string | undefined>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") continue;
    if (!arg.startsWith("--")) return { ok: false, line: `unexpected argument "${arg}"` };
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const name = arg.slice(2);
    const next = argv[i + 1];
    if (valued.includes(name) && next !== undefined && !next.startsWith("--")) {
      flags.set(name, next);
      i++;
    } else flags.set(name, undefined);
  }
  for (const name of flags.keys())
    if (!valued.includes(name) && !switches.includes(name))
      return { ok: false, line: `unknown flag --${name}` };

  const quick = flags.has("quick");
  const profile = flags.has("profile");
  let durationS = quick ? 2 : 5;
  let warmupS = quick ? 0.5 : 1;
  let rounds = quick || profile ? 1 : 3;
  if (flags.has("duration")) {
    const v = positive("duration", flags.get("duration"));
    if (typeof v === "string") return { ok: false, line: v };
    durationS = v;
  }
  if (flags.has("warmup")) {
    const raw = flags.get("warmup");
    const v = Number(raw);
    if (raw === undefined || raw === "" || !Number.isFinite(v) || v < 0)
      return { ok: false, line: `--warmup must be a number ≥ 0, got "${raw ?? ""}"` };
    warmupS = v;
  }
  if (flags.has("rounds")) {
    const raw = flags.get("rounds");
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 1 || v > 20)
      return { ok: false, line: `--rounds must be an integer from 1 to 20, got "${raw ?? ""}"` };
    rounds = v;
  }

  let connections = [50, 1];
  if (flags.has("connections")) {
    const items = (flags.get("connections") ?? "").split(",").map((s) => s.trim());
    const parsed = items.map(Number);
    if (items.length === 0 || parsed.some((n) => !Number.isInteger(n) || n < 1 || n > 1024))
      return {
        ok: false,
        line: `--connections must be integers from 1 to 1024, got "${flags.get("connections") ?? ""}"`,
      };
    connections = parsed;
  }

  let targets: TargetName[] = profile ? ["osm"] : [...targetNames];
  if (flags.has("targets")) {
    const v = list("targets", flags.get("targets"), targetNames);
    if (typeof v === "string") return { ok: false, line: v };
    targets = v;
  }
  let kinds: KindName[] = profile ? ["json"] : [...kindNames];
  if (flags.has("kinds")) {
    const v = list("kinds", flags.get("kinds"), kindNames);
    if (typeof v === "string") return { ok: false, line: v };
    kinds = v;
  }

  let proxies: number[] | null = null;
  if (flags.has("proxies")) {
    const raw = flags.get("proxies") ?? "";
    const parsed = raw.split(",").map((s) => Number(s.trim()));
    if (parsed.some((n) => !Number.isInteger(n) || n < 1 || n > 4))
      return { ok: false, line: `--proxies must be integers from 1 to 4, got "${raw}"` };
    proxies = [...new Set(parsed)];
  }
  let soakS: number | null = null;
  if (flags.has("soak")) {
    const v = positive("soak", flags.get("soak"));
    if (typeof v === "string") return { ok: false, line: v };
    soakS = v;
  }
  let ingestS: number | null = null;
  if (flags.has("ingest")) {
    const v = positive("ingest", flags.get("ingest"));
    if (typeof v === "string") return { ok: false, line: v };
    ingestS = v;
  }
  let keys = 100_000;
  if (flags.has("keys")) {
    const raw = flags.get("keys");
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 1 || v > 1_000_000)
      return { ok: false, line: `--keys must be an integer from 1 to 1000000, got "${raw ?? ""}"` };
    if (soakS === null) return { ok: false, line: "--keys goes with --soak" };
    keys = v;
  }
  if ([proxies !== null, soakS !== null, ingestS !== null].filter(Boolean).length > 1)
    return {
      ok: false,
      line: "--proxies, --soak and --ingest are separate runs: give one of them",
    };

  return {
    ok: true,
    options: {
      proxies,
      soakS,
      ingestS,
      keys,
      durationS,
      warmupS,
      connections,
      targets,
      kinds,
      rounds,
      pin: !flags.has("no-pin"),
      profile,
      record: flags.has("record"),
      quick,
      help: flags.has("help"),
    },
  };
}
