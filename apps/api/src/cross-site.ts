import type { IncomingMessage } from "node:http";

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a state-changing request must be refused, or null. Cookies ride along with requests other
 * sites make, so mutations must come from our own origin (or a configured dashboard origin), not
 * be marked cross-site by the browser, and carry JSON: a form or text/plain body is exactly what
 * a cross-site page can send without a CORS preflight.
 */
export function crossSiteRefusal(
  req: IncomingMessage,
  allowedOrigins: ReadonlySet<string>,
): string | null {
  if (safeMethods.has(req.method ?? "GET")) return null;
  if (req.headers["sec-fetch-site"] === "cross-site") return "cross-site requests are refused";
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const proto =
      req.headers["x-forwarded-proto"] === "https" || "encrypted" in req.socket ? "https" : "http";
    const own = `${proto}://${req.headers.host}`;
    if (origin !== own && !allowedOrigins.has(origin)) return `origin ${origin} is not allowed`;
  }
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return "mutations must send application/json";
  return null;
}
