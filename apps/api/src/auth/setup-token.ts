import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The one-time token that lets the first person sign up on an empty instance. Derived from
 * OSM_SECRET, so every API instance prints and accepts the same one without storing it.
 */
export function setupToken(secret: string): string {
  return createHmac("sha256", secret).update("osm-setup-token").digest("base64url").slice(0, 32);
}

export function isSetupToken(secret: string, presented: string): boolean {
  const expected = Buffer.from(setupToken(secret));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
