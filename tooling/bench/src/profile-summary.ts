import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// Usage: tsx tooling/bench/src/profile-summary.ts <file.cpuprofile | dir> [--top=N]
// With a directory, the profile with the most busy (non-idle) time is read: Node 20 also writes
// one for the module-hooks thread that tsx's loader runs on, mostly idle.

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame };
export type CpuProfile = {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
};

export type FunctionCost = { name: string; location: string; selfMs: number; share: number };
export type PackageCost = { name: string; selfMs: number; share: number };
/** Monotonic microseconds, the clock of both `process.hrtime` and V8's profile timestamps. */
export type Window = { fromUs: number; toUs: number };

export type ProfileSummary = {
  file: string;
  /** Only samples inside these windows were counted (the measured load, not start-up). */
  windows: Window[] | null;
  totalMs: number;
  /** Everything except `(idle)`: the base of the `share` figures. */
  busyMs: number;
  idleMs: number;
  functions: FunctionCost[];
  packages: PackageCost[];
};

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

/** `file:///…/node_modules/.pnpm/pino@10.4.0/node_modules/pino/lib/x.js` → `pino@10.4.0/lib/x.js`. */
export function shortUrl(url: string): string {
  if (url === "") return "";
  let path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const pnpm = /node_modules\/\.pnpm\/([^/]+)\/node_modules\/(?:@[^/]+\/)?[^/]+\/(.*)$/.exec(path);
  if (pnpm) return `${pnpm[1]!.replace(/\+/g, "/")}/${pnpm[2]}`;
  if (path.startsWith(`${root}/`)) path = path.slice(root.length + 1);
  return path;
}

function packageOf(url: string): string {
  if (url === "") return "(vm / native)";
  if (url.startsWith("node:")) return "node (built-in)";
  const short = shortUrl(url);
  const pnpm = /^((?:@[^/]+\/)?[^@/]+)@/.exec(short);
  if (pnpm && url.includes("/node_modules/")) return pnpm[1]!;
  const workspace = /^(apps|packages|tooling)\/([^/]+)\//.exec(short);
  if (workspace) return `@osm/${workspace[2]}`;
  return short;
}

export function summariseProfile(
  profile: CpuProfile,
  file: string,
  top = 10,
  windows: Window[] | null = null,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the gap before sample i, so sample i lasts until sample i + 1 is taken.
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const next = i + 1 < samples.length ? t + (deltas[i + 1] ?? 0) : profile.endTime;
    if (windows && !windows.some((w) => t >= w.fromUs && t < w.toUs)) continue;
    const id = samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, next - t));
  }

  const functions = new Map<string, { name: string; location: string; us: number }>();
  const packages = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    if (frame.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const name = frame.functionName || "(anonymous)";
    // tsx's transpiled modules report line 0 for every function: the line would mislead.
    const line =
      frame.url.endsWith(".ts") && frame.lineNumber === 0 ? "" : `:${frame.lineNumber + 1}`;
    const location = frame.url ? `${shortUrl(frame.url)}${line}` : "";
    const key = `${name}\u0000${location}`;
    const entry = functions.get(key) ?? { name, location, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const pkg = frame.url ? packageOf(frame.url) : name.startsWith("(") ? name : "(vm / native)";
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  return {
    file,
    windows,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        location: f.location,
        selfMs: f.us / 1000,
        share: share(f.us),
      })),
    packages: [...packages]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: share(us) })),
  };
}

/** A file, or the busiest profile in a directory. */
export function loadSummary(
  path: string,
  top = 10,
  windows: Window[] | null = null,
): ProfileSummary {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(path, f))
    : [path];
  let best: ProfileSummary | null = null;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    const summary = summariseProfile(profile, file, top, windows);
    if (!best || summary.busyMs > best.busyMs) best = summary;
  }
  if (!best) throw new Error(`no .cpuprofile in ${path}`);
  return best;
}

export function formatProfileSummary(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `CPU profile ${shortUrl(s.file)}${s.windows ? ", measured windows only" : ""}: ${(s.busyMs / 1000).toFixed(2)} s busy of ${(s.totalMs / 1000).toFixed(2)} s sampled (idle ${(s.idleMs / 1000).toFixed(2)} s); top functions by self time:`,
    "",
    "| # | self ms | share of busy | function | location |",
    "|---:|---:|---:|---|---|",
    ...s.functions.map(
      (f, i) =>
        `| ${i + 1} | ${f.selfMs.toFixed(0)} | ${pct(f.share)} | \`${f.name}\` | ${f.location || "-"} |`,
    ),
    "",
    "| package | self ms | share of busy |",
    "|---|---:|---:|",
    ...s.packages.map((p) => `| ${p.name} | ${p.selfMs.toFixed(0)} | ${pct(p.share)} |`),
  ];
  return lines.join("\n");
}

const invoked = process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invoked) {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  const target = args.find((a) => !a.startsWith("--"));
  const topArg = args.find((a) => a.startsWith("--top="));
  const top = topArg ? Number(topArg.slice("--top=".length)) : 10;
  if (!target || !Number.isInteger(top) || top < 1) {
    process.stderr.write("usage: profile-summary <file.cpuprofile | dir> [--top=N]\n");
    process.exit(1);
  }
  process.stdout.write(`${formatProfileSummary(loadSummary(target, top))}\n`);
}
