import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

export type Child = {
  name: string;
  pid: number;
  /** The first stdout line: the fake provider's contract for announcing its URL. */
  firstLine: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** CPU seconds (user + system) used so far by every process in the child's group. */
  cpuSeconds(): number | null;
  /** Resident memory of the child's group, in bytes. */
  rssBytes(): number | null;
  /** SIGTERM to tsx (it relays to its node child), then SIGKILL to the group after graceMs. */
  stop(graceMs: number): Promise<void>;
};

export type SpawnOptions = {
  quietStdout?: boolean;
  nodeArgs?: string[];
  /** Arguments after the entry. */
  args?: string[];
  /** Pins the child (and every thread and process it starts) to this core with taskset. */
  cpu?: number;
};

/**
 * Runs `tsx <entry>` (or `node <entry>` for built JavaScript) in its own process group, so a
 * terminal Ctrl-C reaches only the bench, which then stops the children in order, and a SIGKILL
 * to the group also takes tsx's node child.
 */
export function spawnTsx(
  name: string,
  root: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  options: SpawnOptions = {},
): Child {
  // tsx hands flags before the entry on to the node process that runs the app.
  const runner = entry.endsWith(".js") ? process.execPath : join(root, "node_modules/.bin/tsx");
  const args = [...(options.nodeArgs ?? []), entry, ...(options.args ?? [])];
  // taskset execs the runner, so the pid (and the process group) stays the child's own.
  const [command, argv] =
    options.cpu === undefined
      ? [runner, args]
      : ["taskset", ["-c", String(options.cpu), runner, ...args]];
  const child: ChildProcess = spawn(command, argv, {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not spawn ${entry}`);
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    let first = true;
    createInterface({ input: child.stdout!, crlfDelay: Number.POSITIVE_INFINITY }).on(
      "line",
      (line) => {
        if (first) {
          first = false;
          resolve(line);
        }
        if (!options.quietStdout) process.stderr.write(`[${name}] ${line}\n`);
      },
    );
    void exited.then(({ code, signal }) =>
      reject(new Error(`${name} exited before printing anything (code ${code}, signal ${signal})`)),
    );
  });
  // Only a rejection nobody awaits would crash the bench; the caller awaits when it cares.
  firstLine.catch(() => {});
  createInterface({ input: child.stderr!, crlfDelay: Number.POSITIVE_INFINITY }).on(
    "line",
    (line) => process.stderr.write(`[${name}] ${line}\n`),
  );

  const killGroup = () => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  };

  return {
    name,
    pid,
    firstLine,
    exited,
    running: () => alive,
    cpuSeconds: () => groupCpuSeconds(pid),
    rssBytes: () => groupRssBytes(pid),
    async stop(graceMs) {
      if (alive) child.kill("SIGTERM");
      const timeout = sleep(graceMs, "timeout" as const, { ref: false });
      if ((await Promise.race([exited, timeout])) === "timeout")
        process.stderr.write(`bench: ${name} did not stop within ${graceMs} ms; killing it\n`);
      // Also reaps tsx's node child if tsx itself went first.
      killGroup();
      await exited;
    },
  };
}

let clockTicks: number | null | undefined;
function ticksPerSecond(): number | null {
  if (clockTicks !== undefined) return clockTicks;
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  clockTicks = r.status === 0 && n > 0 ? n : null;
  return clockTicks;
}

type ProcStat = { pid: number; ppid: number; pgrp: number; ticks: number; rssPages: number };

function procStats(): ProcStat[] | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  const out: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // The command name is in parentheses and may hold spaces: fields start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the name: state(0) ppid(1) pgrp(2) … utime(11) stime(12) … rss(21, in pages).
    out.push({
      pid: Number(entry),
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      ticks: Number(fields[11]) + Number(fields[12]),
      rssPages: Number(fields[21]),
    });
  }
  return out;
}

/** Linux only (/proc): null elsewhere, and the report then leaves the CPU columns empty. */
export function groupCpuSeconds(pgid: number): number | null {
  const hz = ticksPerSecond();
  const stats = procStats();
  if (hz === null || stats === null) return null;
  let ticks = 0;
  for (const p of stats) if (p.pgrp === pgid) ticks += p.ticks;
  return ticks / hz;
}

let pageBytes: number | null | undefined;

/** Resident memory of every process in the group (tsx's wrapper included where there is one). */
export function groupRssBytes(pgid: number): number | null {
  if (pageBytes === undefined) {
    const r = spawnSync("getconf", ["PAGESIZE"], { encoding: "utf8" });
    const n = Number(r.stdout?.trim());
    pageBytes = r.status === 0 && n > 0 ? n : null;
  }
  const stats = procStats();
  if (pageBytes === null || stats === null) return null;
  let pages = 0;
  for (const p of stats) if (p.pgrp === pgid) pages += p.rssPages;
  return pages * pageBytes;
}

/**
 * Pins a running process and all its threads to one core; later children inherit it. False
 * where taskset is missing or refuses (the figures are then taken unpinned).
 */
export function pinToCore(pid: number, cpu: number): boolean {
  const r = spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], {
    encoding: "utf8",
  });
  return r.status === 0;
}

/** CPU seconds of the given processes and their direct children (PostgreSQL's backends). */
export function treeCpuSeconds(pids: readonly number[]): number | null {
  const hz = ticksPerSecond();
  const stats = procStats();
  if (hz === null || stats === null) return null;
  let ticks = 0;
  for (const p of stats) if (pids.includes(p.pid) || pids.includes(p.ppid)) ticks += p.ticks;
  return ticks / hz;
}

/** The pid of the process whose command line contains every one of `parts`, if any. */
export function findPid(parts: readonly string[]): number | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (parts.every((p) => cmdline.includes(p))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/** Busy and total jiffies over all cores from /proc/stat; null where it is missing. */
export function machineTicks(): { busy: number; total: number } | null {
  let line: string | undefined;
  try {
    line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  } catch {
    return null;
  }
  if (!line?.startsWith("cpu ")) return null;
  // user nice system idle iowait irq softirq steal: idle and iowait are the idle part.
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}
