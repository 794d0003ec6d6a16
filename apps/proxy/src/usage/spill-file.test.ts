import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { usageEvent } from "@osm/testing/usage-events";
import { afterEach, describe, expect, it } from "vitest";
import { SpillFile } from "./spill-file.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("SpillFile", () => {
  it("hands over every appended event although replays claim the file while appends write", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osm-spill-"));
    dirs.push(dir);
    // Writers on one directory (this process's file and other proxies'), and replayers.
    const writers = Array.from({ length: 8 }, () => new SpillFile(dir));
    const replayer = new SpillFile(dir);
    const seen = new Set<string>();
    const take = async (events: { requestId: string }[]) => {
      for (const e of events) seen.add(e.requestId);
    };
    const sent: string[] = [];
    let stop = false;
    // Replays paced a few ms apart: back to back they would claim every file in the middle of
    // every write (a write takes a datasync) and starve the appends, which production's
    // replay interval (seconds) never does. Paced, claims still land during writes.
    const replays = (async () => {
      while (!stop) {
        await replayer.replay(take);
        await writers[0]!.replay(take);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    let handedOverDuringAppends = 0;
    try {
      const appends = writers.map(async (w, k) => {
        for (let i = 0; i < 400; i++) {
          const event = usageEvent(`w${k}-${i}`, 1);
          sent.push(event.requestId);
          await w.append([event]);
        }
      });
      await Promise.all(appends);
      handedOverDuringAppends = seen.size;
    } finally {
      stop = true;
      await replays;
    }
    await replayer.replay(take);
    // The replays did run alongside the appends, not only after them.
    expect(handedOverDuringAppends).toBeGreaterThan(0);
    expect(sent.filter((id) => !seen.has(id))).toEqual([]);
  });

  it("keeps events spilled while a failed replay held the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osm-spill-"));
    dirs.push(dir);
    const spill = new SpillFile(dir);
    await spill.append([usageEvent("before", 1)]);
    // Redis refuses the replay; meanwhile the next spill starts a new file of the same name.
    await expect(
      spill.replay(async () => {
        await spill.append([usageEvent("during", 1)]);
        throw new Error("redis unavailable");
      }),
    ).rejects.toThrow("redis unavailable");
    const seen: string[] = [];
    await spill.replay(async (events) => {
      seen.push(...events.map((e) => e.requestId));
    });
    expect(seen.sort()).toEqual([
      usageEvent("before", 1).requestId,
      usageEvent("during", 1).requestId,
    ]);
  });
});
