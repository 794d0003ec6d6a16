import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeBase62 } from "./base62.ts";
import { type IdKind, IdPrefixes, isId, newId } from "./ids.ts";

const kinds = Object.keys(IdPrefixes) as IdKind[];

afterEach(() => {
  vi.useRealTimers();
});

describe("newId", () => {
  it("has the `<prefix>_` + 22 base62 shape for every kind", () => {
    for (const kind of kinds) {
      const id = newId(kind);
      expect(id).toMatch(new RegExp(`^${IdPrefixes[kind]}_[0-9A-Za-z]{22}$`));
      expect(isId(kind, id)).toBe(true);
    }
  });

  it("uses distinct prefixes", () => {
    expect(new Set(Object.values(IdPrefixes)).size).toBe(kinds.length);
  });

  it("encodes the creation millisecond in the first 8 chars", () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    vi.useFakeTimers({ now, toFake: ["Date"] });
    const id = newId("key");
    expect(decodeBase62(id.slice(4, 12))).toBe(now);
  });

  it("sorts by creation time across milliseconds", () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 5, 1), toFake: ["Date"] });
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) {
      ids.push(newId("request"));
      // Steps from 1 ms to about 4.5 days, crossing several base62 digit carries.
      vi.setSystemTime(Date.now() + 1 + ((i * 7919) % 400_000_000));
    }
    expect([...ids].sort()).toEqual(ids);
  });

  it("does not collide within one millisecond", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ["Date"] });
    const ids = Array.from({ length: 100_000 }, () => newId("request"));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("isId", () => {
  const valid = newId("project");

  it.each([
    ["another kind's prefix", valid.replace(/^prj/, "key")],
    ["a missing separator", valid.replace("_", "")],
    ["a different separator", valid.replace("_", "-")],
    ["one char short", valid.slice(0, -1)],
    ["one char long", `${valid}0`],
    ["a non-base62 char", `${valid.slice(0, -1)}_`],
    ["upper-case prefix", valid.replace(/^prj/, "PRJ")],
    ["empty", ""],
  ])("refuses %s", (_, value) => {
    expect(isId("project", value)).toBe(false);
  });

  it("refuses the same id under a different kind", () => {
    expect(isId("project", valid)).toBe(true);
    expect(isId("provider", valid)).toBe(false);
  });

  it("refuses non-strings without throwing", () => {
    for (const value of [undefined, null, 42, {}]) {
      expect(isId("user", value as unknown as string)).toBe(false);
    }
  });
});
