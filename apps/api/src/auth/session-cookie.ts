import type { IncomingMessage, ServerResponse } from "node:http";
import { sessionCookie } from "../actor.ts";

export const sessionLifetimeMs = 30 * 24 * 3600 * 1000;

function secure(req: IncomingMessage): boolean {
  return "encrypted" in req.socket || req.headers["x-forwarded-proto"] === "https";
}

// HttpOnly keeps scripts away from it; SameSite=Strict keeps other sites from riding on it.
export function setSessionCookie(req: IncomingMessage, res: ServerResponse, token: string) {
  res.appendHeader(
    "Set-Cookie",
    `${sessionCookie}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${sessionLifetimeMs / 1000}${secure(req) ? "; Secure" : ""}`,
  );
}

export function clearSessionCookie(req: IncomingMessage, res: ServerResponse) {
  res.appendHeader(
    "Set-Cookie",
    `${sessionCookie}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure(req) ? "; Secure" : ""}`,
  );
}
