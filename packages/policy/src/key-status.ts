/**
 * A key's status from its stored state, in one precedence that the dashboard, the list filter
 * and the gateway all follow: revoked > expired > inactive > limit reached > active.
 */
export const keyStatuses = ["revoked", "expired", "inactive", "limit_reached", "active"] as const;
export type KeyStatus = (typeof keyStatuses)[number];

export type KeyState = {
  revokedAt: Date | null;
  expiresAt: Date | null;
  enabled: boolean;
  limitReached: boolean;
};

export function keyStatus(key: KeyState, now: Date): KeyStatus {
  if (key.revokedAt !== null) return "revoked";
  // Written as "not before" so an invalid date (NaN) counts as expired: fail closed.
  if (key.expiresAt !== null && !(now.getTime() < key.expiresAt.getTime())) return "expired";
  if (!key.enabled) return "inactive";
  if (key.limitReached) return "limit_reached";
  return "active";
}
