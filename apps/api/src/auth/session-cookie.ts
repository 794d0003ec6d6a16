import type { IncomingMessage, ServerResponse } from "node:http";
import { sessionCookie } from "../actor.ts";

export const sessionLifetimeMs = 30 * 24 * 3600 * 1000;

/**
 * Behind https the cookie is `__Host-` prefixed: the browser then insists on Secure, Path=/ and
 * no Domain, so no sibling subdomain or plain-http page can plant or overwrite it. Over plain
 * http (the demo, a LAN install) a Secure cookie would be dropped by browsers other than
 * Chromium, so there the name stays plain.
 */
export function sessionCookieName(publicUrl: string | undefined): string {
  return publicUrl?.startsWith("https://") ? `__Host-${sessionCookie}` : sessionCookie;
}

function attributes(req: IncomingMessage, name: string, maxAge: number): string {
  const secure =
    name.startsWith("__Host-") ||
    "encrypted" in req.socket ||
    req.headers["x-forwarded-proto"] === "https";
  // HttpOnly keeps scripts away from it; SameSite=Strict keeps other sites from riding on it.
  return `Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
}

export function setSessionCookie(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  token: string,
) {
  res.appendHeader(
    "Set-Cookie",
    `${name}=${token}; ${attributes(req, name, sessionLifetimeMs / 1000)}`,
  );
}

export function clearSessionCookie(req: IncomingMessage, res: ServerResponse, name: string) {
  res.appendHeader("Set-Cookie", `${name}=; ${attributes(req, name, 0)}`);
}
