export type LatencySummary = {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
};

/**
 * Every sample kept and sorted once at the end: a run is at most a few hundred thousand
 * requests, so exact percentiles cost a few megabytes and no bucket error.
 */
export class LatencyRecorder {
  private samples = new Float64Array(1 << 14);
  private n = 0;

  record(ms: number): void {
    if (this.n === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    const sorted = this.samples.slice(0, this.n).sort();
    // Nearest-rank percentile: the smallest sample with at least p of the samples at or below it.
    const at = (p: number) =>
      sorted.length === 0 ? 0 : sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: sorted.length,
      meanMs: sorted.length === 0 ? 0 : sum / sorted.length,
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      maxMs: sorted.length === 0 ? 0 : sorted[sorted.length - 1]!,
    };
  }
}
