import { inOneSlot } from "@osm/redis/hash-tag";
import { describe, expect, it } from "vitest";
import { bullPrefix, queueNames } from "./queues.ts";

// BullMQ's scripts take many keys of a queue in one call (`prefix:queue:wait`, `:active`, …):
// on a Redis Cluster they must share a slot, which the prefix's hash tag ensures.
describe("bullPrefix", () => {
  it.each(["osm:", "t1a2b3:", ""])("puts every key of every queue under %j in one slot", (p) => {
    const keys = Object.values(queueNames).flatMap((queue) =>
      ["wait", "active", "meta", "events", "delayed", "1"].map(
        (k) => `${bullPrefix(p)}:${queue}:${k}`,
      ),
    );
    expect(inOneSlot(keys)).toBe(true);
  });

  it("keeps the deployment prefix in front, so its keys stay under it", () => {
    expect(bullPrefix("osm:").startsWith("osm:")).toBe(true);
  });
});
