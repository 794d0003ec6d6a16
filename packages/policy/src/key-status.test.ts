import { describe, expect, it } from "vitest";
import { type KeyState, type KeyStatus, keyStatus } from "./key-status.ts";

const now = new Date("2026-12-03T12:00:00Z");
const live: KeyState = { revokedAt: null, expiresAt: null, enabled: true, limitReached: false };
const revokedAt = new Date("2026-12-01T00:00:00Z");
const past = new Date("2026-12-02T00:00:00Z");

describe("keyStatus", () => {
  const cases: [string, Partial<KeyState>, Date, KeyStatus][] = [
    ["a live key", {}, now, "active"],
    ["revoked", { revokedAt }, now, "revoked"],
    ["expired", { expiresAt: past }, now, "expired"],
    ["expiring exactly now", { expiresAt: now }, now, "expired"],
    ["expiring 1 ms from now", { expiresAt: new Date(now.getTime() + 1) }, now, "active"],
    ["disabled", { enabled: false }, now, "inactive"],
    ["at its limit", { limitReached: true }, now, "limit_reached"],
    ["revoked > expired", { revokedAt, expiresAt: past }, now, "revoked"],
    [
      "revoked > disabled > limit",
      { revokedAt, enabled: false, limitReached: true },
      now,
      "revoked",
    ],
    ["expired > disabled", { expiresAt: past, enabled: false }, now, "expired"],
    ["disabled > limit reached", { enabled: false, limitReached: true }, now, "inactive"],
    ["an invalid clock fails closed", { expiresAt: past }, new Date(Number.NaN), "expired"],
    ["an invalid expiry fails closed", { expiresAt: new Date(Number.NaN) }, now, "expired"],
  ];
  it.each(cases)("%s", (_name, state, at, expected) => {
    expect(keyStatus({ ...live, ...state }, at)).toBe(expected);
  });
});
