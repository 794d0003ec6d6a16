import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Db } from "@osm/db/client";
import { findSessionUser } from "@osm/db/queries/auth";
import { findActiveToken } from "@osm/db/queries/tokens";
import type { Role } from "@osm/db/schema";
import { hashSecret, parseSecret } from "@osm/keys/secrets";

/** Who is calling: a person (session cookie), a management token, or the operator's master key. */
export type Actor =
  | { type: "user"; userId: string; email: string; sessionId: string }
  | { type: "token"; tokenId: string; projectId: string; role: Role }
  | { type: "master" };

export type ActorResult = { actor: Actor | null; invalidCredentials: boolean };

/** The session cookie's base name; see sessionCookieName for the `__Host-` form. */
export const sessionCookie = "osm_session";

function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

// Hash both sides first so the comparison takes the same time whatever the lengths.
function isMasterKey(presented: string, masterKey: string | undefined): boolean {
  if (!masterKey) return false;
  return timingSafeEqual(digest(presented), digest(masterKey));
}

export async function resolveActor(
  req: IncomingMessage,
  db: Db,
  masterKey: string | undefined,
  now: Date,
  cookieName: string,
): Promise<ActorResult> {
  const authorization = req.headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    const presented = match?.[1];
    if (!presented) return { actor: null, invalidCredentials: true };
    // The master key is compared before any token parsing: it may look like anything.
    if (isMasterKey(presented, masterKey))
      return { actor: { type: "master" }, invalidCredentials: false };
    if (parseSecret(presented)?.kind !== "token") return { actor: null, invalidCredentials: true };
    const token = await findActiveToken(db, hashSecret(presented), now);
    if (!token) return { actor: null, invalidCredentials: true };
    return {
      actor: { type: "token", tokenId: token.id, projectId: token.projectId, role: token.role },
      invalidCredentials: false,
    };
  }
  const cookie = readCookie(req, cookieName);
  if (cookie) {
    const session = await findSessionUser(db, hashSecret(cookie), now);
    if (session) {
      return {
        actor: {
          type: "user",
          userId: session.userId,
          email: session.email,
          sessionId: session.sessionId,
        },
        invalidCredentials: false,
      };
    }
  }
  return { actor: null, invalidCredentials: false };
}
