/** The highest change version a proxy has received, read from its metrics port. */
export async function seenVersion(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return Number(/^osm_proxy_seen_version (\d+)/m.exec(text)?.[1] ?? 0);
}

/**
 * Waits until every proxy reports having seen `version` and returns how long that took in ms;
 * fails past `deadlineMs` (5× the 1 s propagation target by default).
 */
export async function propagated(
  proxies: readonly { metricsUrl: string }[],
  version: number,
  deadlineMs = 5_000,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    const seen = await Promise.all(proxies.map((p) => seenVersion(p.metricsUrl)));
    if (seen.every((v) => v >= version)) return performance.now() - started;
    if (performance.now() - started > deadlineMs)
      throw new Error(`proxies saw ${seen.join(", ")}, want ${version}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
