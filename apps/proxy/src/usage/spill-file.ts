import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { type UsageEvent, usageEventSchema } from "@osm/jobs/usage-event";

/**
 * Usage events that Redis could not take in time, appended as NDJSON and fsynced before the
 * request completes: they survive a crash of this process and are replayed when Redis is back.
 * Files are claimed by rename, so several proxies sharing a data directory replay each once.
 */
export class SpillFile {
  private readonly dir: string;
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.dir = join(dataDir, "usage-spill");
    this.file = this.freshName();
  }

  private freshName(): string {
    return join(this.dir, `${process.pid}-${randomBytes(4).toString("hex")}.ndjson`);
  }

  append(events: UsageEvent[]): Promise<void> {
    const text = events.map((e) => JSON.stringify(e)).join("\n") + "\n";
    // Appends are serialised so lines never interleave.
    this.writing = this.writing.then(async () => {
      await mkdir(this.dir, { recursive: true });
      // A replay (of another proxy sharing the directory) may claim the file between our open
      // and our write, and read it before the write lands: then write the lines again, to the
      // new file. A copy the replay did get is harmless: the ledger takes each request once.
      for (;;) {
        const handle = await open(this.file, "a");
        try {
          await handle.write(text);
          await handle.datasync();
          const written = await handle.stat();
          const current = await stat(this.file).catch(() => null);
          if (current?.ino === written.ino && current.dev === written.dev) return;
        } finally {
          await handle.close();
        }
      }
    });
    return this.writing;
  }

  /** What waits in the spill directory (any process's files): how far Redis is behind. */
  async depth(): Promise<{ files: number; bytes: number }> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith(".ndjson"));
    } catch {
      return { files: 0, bytes: 0 };
    }
    let bytes = 0;
    for (const name of names) {
      // A file claimed for replay between readdir and stat is no longer waiting.
      bytes += await stat(join(this.dir, name)).then(
        (s) => s.size,
        () => 0,
      );
    }
    return { files: names.length, bytes };
  }

  /** Claims every spill file (this process's and crashed ones') and hands their events over. */
  async replay(send: (events: UsageEvent[]) => Promise<void>): Promise<number> {
    await this.writing;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let replayed = 0;
    for (const name of names.filter((n) => n.endsWith(".ndjson"))) {
      const claimed = join(this.dir, `${name}.replaying-${process.pid}`);
      try {
        await rename(join(this.dir, name), claimed);
      } catch {
        continue; // another process claimed it
      }
      const events: UsageEvent[] = [];
      for (const line of (await readFile(claimed, "utf8")).split("\n")) {
        if (!line.trim()) continue;
        // A line cut by a crash mid-write is skipped: its request never completed.
        const parsed = usageEventSchema.safeParse(safeJson(line));
        if (parsed.success) events.push(parsed.data);
      }
      try {
        for (let i = 0; i < events.length; i += 500) await send(events.slice(i, i + 500));
      } catch (err) {
        // Back under a name of its own: a spill since the claim may have started a new file
        // under the old name, and renaming over it would delete those events.
        await rename(claimed, this.freshName()).catch(() => {});
        throw err;
      }
      await unlink(claimed);
      replayed += events.length;
    }
    return replayed;
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}
