/**
 * The highest change version seen per row id, from invalidation messages. A cache fill that
 * read an older version raced with a change: it is dropped instead of cached.
 */
export class SeenVersions {
  private readonly seen = new Map<string, number>();
  /** The highest version of any invalidation received: what the proxy reports as its state. */
  latest = 0;

  observe(id: string, version: number): void {
    if (version > (this.seen.get(id) ?? 0)) this.seen.set(id, version);
    if (version > this.latest) this.latest = version;
    // Bounded: versions only need remembering while a racing fill may be in flight.
    if (this.seen.size > 100_000) this.seen.clear();
  }

  isStale(id: string, version: number): boolean {
    return version < (this.seen.get(id) ?? 0);
  }
}
