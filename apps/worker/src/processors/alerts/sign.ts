import { createHmac } from "node:crypto";

/** The header a webhook's signature travels in (see docs/alerts.md). */
export const signatureHeader = "osm-signature";

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is signed with
 * the body, so a receiver that refuses old timestamps cannot be replayed a captured delivery.
 * Every attempt is signed afresh with its own timestamp.
 */
export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}
