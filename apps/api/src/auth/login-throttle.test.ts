import { inOneSlot } from "@osm/redis/hash-tag";
import { describe, expect, it } from "vitest";
import { loginThrottleKeys } from "./login-throttle.ts";

// The throttle counts both names in one MULTI and forgives in one script: on a Redis Cluster
// both must hash to one slot.
describe("loginThrottleKeys", () => {
  it.each([
    ["osm:", "owner@example.com", "203.0.113.7"],
    ["t1a2b3:", "a@b.c", "::1"],
    ["", "x@y.z", "2001:db8::8a2e:370:7334"],
  ])("puts the pair and the address counter of %s %s %s in one slot", (prefix, email, address) => {
    expect(inOneSlot(Object.values(loginThrottleKeys(prefix, email, address)))).toBe(true);
  });

  it("keeps different addresses in different slots", () => {
    const a = loginThrottleKeys("osm:", "a@b.c", "203.0.113.7");
    const b = loginThrottleKeys("osm:", "a@b.c", "203.0.113.8");
    expect(inOneSlot([a.address, b.address])).toBe(false);
  });
});
