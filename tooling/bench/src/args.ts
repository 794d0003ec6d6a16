export const scenarioNames = [
  "direct-json",
  "proxy-json",
  "direct-stream",
  "proxy-stream",
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export type BenchOptions = {
  durationS: number;
  warmupS: number;
  connections: number[];
  scenarios: ScenarioName[];
  /** Run the proxy child under `--cpu-prof` and print its top self-time functions. */
  profile: boolean;
  quick: boolean;
  help: boolean;
};

export const usage = `usage: pnpm bench [--quick] [--duration=SECONDS] [--warmup=SECONDS]
                  [--connections=N[,N...]] [--scenarios=NAME[,NAME...]] [--profile]
  --duration     measured seconds per scenario (default 8; --quick: 2)
  --warmup       unmeasured seconds before each scenario (default 2; --quick: 0.5)
  --connections  load generator connections, a comma list runs each (default 32)
  --scenarios    ${scenarioNames.join(", ")} (default: all; --profile: proxy-json)
  --profile      CPU-profile the proxy process and summarise its top self-time functions`;

export type ParsedArgs = { ok: true; options: BenchOptions } | { ok: false; line: string };

function positive(name: string, value: string | undefined): number | string {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n) || n <= 0)
    return `--${name} must be a positive number, got "${value ?? ""}"`;
  return n;
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
    const takesValue = ["duration", "warmup", "connections", "scenarios"].includes(name);
    if (takesValue && next !== undefined && !next.startsWith("--")) {
      flags.set(name, next);
      i++;
    } else flags.set(name, undefined);
  }

  const known = new Set([
    "duration",
    "warmup",
    "connections",
    "scenarios",
    "profile",
    "quick",
    "help",
  ]);
  for (const name of flags.keys())
    if (!known.has(name)) return { ok: false, line: `unknown flag --${name}` };

  const quick = flags.has("quick");
  const profile = flags.has("profile");
  let durationS = quick ? 2 : 8;
  let warmupS = quick ? 0.5 : 2;
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

  let connections = [32];
  if (flags.has("connections")) {
    const list = (flags.get("connections") ?? "").split(",").map((s) => s.trim());
    const parsed = list.map(Number);
    if (list.length === 0 || parsed.some((n) => !Number.isInteger(n) || n < 1 || n > 1024))
      return {
        ok: false,
        line: `--connections must be integers from 1 to 1024, got "${flags.get("connections") ?? ""}"`,
      };
    connections = parsed;
  }

  let scenarios: ScenarioName[] = profile ? ["proxy-json"] : [...scenarioNames];
  if (flags.has("scenarios")) {
    const list = (flags.get("scenarios") ?? "").split(",").map((s) => s.trim());
    const unknown = list.filter((s) => !scenarioNames.some((n) => n === s));
    if (list.length === 0 || unknown.length > 0)
      return {
        ok: false,
        line: `--scenarios takes ${scenarioNames.join(", ")}; got "${flags.get("scenarios") ?? ""}"`,
      };
    // Keep the canonical order so each proxy scenario runs right after its direct baseline.
    scenarios = scenarioNames.filter((n) => list.includes(n));
  }

  return {
    ok: true,
    options: {
      durationS,
      warmupS,
      connections,
      scenarios,
      profile,
      quick,
      help: flags.has("help"),
    },
  };
}
