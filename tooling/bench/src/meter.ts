import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { machineTicks } from "./child.ts";
import type { BenchStack } from "./stack.ts";

export const processNames = [
  "loadGenerator",
  "fakeProvider",
  "proxy",
  "worker",
  "redis",
  "postgres",
  "floor",
  "portkey",
] as const;
export type ProcessName = (typeof processNames)[number];
export type CpuSeconds = Partial<Record<ProcessName, number>>;

export type CpuReading = {
  wallS: number;
  /** CPU seconds per process over the reading (from /proc; absent where it is missing). */
  seconds: CpuSeconds;
  /** What the machine spent beyond these processes, in % of one core: other work. */
  otherPct: number | null;
};

function snapshot(stack: BenchStack): CpuSeconds {
  const self = process.cpuUsage();
  const out: CpuSeconds = { loadGenerator: (self.user + self.system) / 1e6 };
  const put = (name: ProcessName, value: number | null | undefined) => {
    if (typeof value === "number") out[name] = value;
  };
  put("fakeProvider", stack.fake.cpuSeconds());
  put("proxy", stack.proxy.cpuSeconds());
  put("worker", stack.worker.cpuSeconds());
  put("floor", stack.floor.cpuSeconds());
  put("portkey", stack.portkey?.cpuSeconds());
  put("redis", stack.redisCpuSeconds());
  put("postgres", stack.postgresCpuSeconds());
  return out;
}

/** Starts a CPU reading of every process of the stack; call the result to end it. */
export function startCpuReading(stack: BenchStack): () => CpuReading {
  const startWall = performance.now();
  const start = snapshot(stack);
  const startMachine = machineTicks();
  return () => {
    const end = snapshot(stack);
    const endMachine = machineTicks();
    const wallS = (performance.now() - startWall) / 1000;
    const seconds: CpuSeconds = {};
    let ours = 0;
    for (const name of processNames) {
      const a = start[name];
      const b = end[name];
      if (a === undefined || b === undefined) continue;
      seconds[name] = Math.max(0, b - a);
      ours += seconds[name];
    }
    let otherPct: number | null = null;
    if (startMachine && endMachine && endMachine.total > startMachine.total && wallS > 0) {
      const busyShare =
        (endMachine.busy - startMachine.busy) / (endMachine.total - startMachine.total);
      const busyCoreSeconds = busyShare * cpus().length * wallS;
      otherPct = Math.max(0, (100 * (busyCoreSeconds - ours)) / wallS);
    }
    return { wallS, seconds, otherPct };
  };
}
