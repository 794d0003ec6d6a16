import type { ServerResponse } from "node:http";

export type ReadinessChecks = Record<string, () => Promise<unknown>>;
export type Readiness = { ready: boolean; checks: Record<string, "up" | "down"> };

// A load balancer's probe must get an answer while a dependency hangs: past this, it is down.
const probeTimeoutMs = 2_000;

function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}

/** Runs every check at once; ready only when each answered in time. */
export async function probeReadiness(
  checks: ReadinessChecks,
  timeoutMs = probeTimeoutMs,
): Promise<Readiness> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => within(checks[name]!(), timeoutMs)));
  return {
    ready: results.every(Boolean),
    checks: Object.fromEntries(names.map((name, i) => [name, results[i] ? "up" : "down"])),
  };
}

/** `/readyz`: 200 when every check answers, 503 otherwise, with each check's state. */
export async function answerReadiness(res: ServerResponse, checks: ReadinessChecks): Promise<void> {
  const readiness = await probeReadiness(checks);
  const text = JSON.stringify({
    status: readiness.ready ? "ok" : "unavailable",
    ...readiness.checks,
  });
  res
    .writeHead(readiness.ready ? 200 : 503, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Cache-Control": "no-store",
    })
    .end(text);
}
