import { describe, expect, it } from "vitest";
import { hashTag, inOneSlot } from "./hash-tag.ts";

describe("hashTag", () => {
  it.each([
    ["osm:{key_1}:budget:m202612", "key_1"],
    ["osm:{key_1}:rpm", "key_1"],
    ["osm:no-tag", "osm:no-tag"],
    // An empty tag or an unclosed brace hashes the whole key, as Redis does.
    ["osm:{}:x", "osm:{}:x"],
    ["osm:{open", "osm:{open"],
    // Only the first tag counts.
    ["{a}:{b}", "a"],
    ["osm:{bull}:usage:wait", "bull"],
  ])("%s hashes %s", (key, tag) => {
    expect(hashTag(key)).toBe(tag);
  });

  it("tells keys of one slot from keys of two", () => {
    expect(inOneSlot(["p:{k}:a", "p:{k}:b"])).toBe(true);
    expect(inOneSlot(["p:{k}:a", "p:{j}:a"])).toBe(false);
    expect(inOneSlot(["p:a", "p:b"])).toBe(false);
  });
});
