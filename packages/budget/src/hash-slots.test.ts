import { inOneSlot } from "@osm/redis/hash-tag";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keyCounters } from "./redis-key-names.ts";
import * as scripts from "./scripts.ts";

// Static half of the cluster proof (the dynamic half runs the suites on a real Redis Cluster):
// every script takes all its keys from one keyCounters() call, and those share one hash slot.

const prefix = fc.stringMatching(/^[a-z0-9:_-]{0,12}$/);
const id = fc.stringMatching(/^[A-Za-z0-9_]{1,30}$/);
const windowId = fc.stringMatching(/^[a-z0-9.]{1,20}$/);

describe("the budget's key names", () => {
  it("put every counter of one key and window in one slot", () => {
    fc.assert(
      fc.property(prefix, id, windowId, (p, keyId, w) => {
        expect(inOneSlot(Object.values(keyCounters(p, keyId, w)))).toBe(true);
      }),
    );
  });

  it("spread different keys over slots (the tag is the key id)", () => {
    const a = Object.values(keyCounters("osm:", "key_a", "m202612"));
    const b = Object.values(keyCounters("osm:", "key_b", "m202612"));
    expect(inOneSlot([...a, ...b])).toBe(false);
  });
});

describe("the budget's Lua scripts", () => {
  const all = Object.entries(scripts).filter(([, value]) => typeof value === "string");

  it.each(all)("%s touches only the keys it is given", (_, lua) => {
    // Keys a script builds for itself escape the slot check: no string concatenation at all,
    // and every command's key is a KEYS entry or a parameter of a helper defined in the script.
    expect(lua).not.toContain("..");
    const params = new Set(
      [...lua.matchAll(/local function \w+\(([^)]*)\)/g)].flatMap((m) =>
        m[1]!.split(",").map((p) => p.trim()),
      ),
    );
    const keyArgs = [...lua.matchAll(/redis\.call\('\w+', ([^,)]+)/g)].map((m) => m[1]!.trim());
    expect(keyArgs.length).toBeGreaterThan(0);
    for (const arg of keyArgs) expect(/^KEYS\[\w+\]$/.test(arg) || params.has(arg), arg).toBe(true);
    // Helpers get their keys from KEYS too: each call's leading arguments are KEYS entries.
    for (const call of lua.matchAll(
      /^\s*(?:local \w+ = )?(expire_reservations|trim_rate_logs)\(([^)]*)\)/gm,
    )) {
      const args = call[2]!.split(",").map((a) => a.trim());
      for (const arg of args.slice(0, -1)) expect(arg).toMatch(/^KEYS\[\d+\]$/);
    }
  });
});
