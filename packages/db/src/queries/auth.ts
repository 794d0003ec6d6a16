import { newId } from "@osm/keys/ids";
import { and, count, eq, gt, ne, sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { sessions, users } from "../schema/users.ts";

export async function countUsers(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users);
  return row?.n ?? 0;
}

export async function findUserByEmail(db: DbOrTx, email: string) {
  const [row] = await db.select().from(users).where(eq(users.email, email.toLowerCase()));
  return row;
}

export async function findUserById(db: DbOrTx, id: string) {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

export async function insertUser(db: DbOrTx, email: string, passwordHash: string) {
  const [row] = await db
    .insert(users)
    .values({ id: newId("user"), email: email.toLowerCase(), passwordHash })
    .returning();
  return row!;
}

export async function setUserPassword(db: DbOrTx, userId: string, passwordHash: string) {
  await db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, userId));
}

export async function insertSession(
  db: DbOrTx,
  userId: string,
  tokenHash: string,
  expiresAt: Date,
) {
  const id = newId("session");
  await db.insert(sessions).values({ id, userId, tokenHash, expiresAt });
  return id;
}

export async function findSessionUser(db: DbOrTx, tokenHash: string, now: Date) {
  const [row] = await db
    .select({ sessionId: sessions.id, userId: users.id, email: users.email })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)));
  return row;
}

export async function deleteSession(db: DbOrTx, sessionId: string) {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}

/** After a password change every other session of that person ends. */
export async function deleteOtherSessions(
  db: DbOrTx,
  userId: string,
  keepSessionId: string | null,
) {
  await db
    .delete(sessions)
    .where(
      and(eq(sessions.userId, userId), keepSessionId ? ne(sessions.id, keepSessionId) : undefined),
    );
}

/** Serialises concurrent first sign-ups until the transaction ends: exactly one becomes the owner. */
export async function lockFirstSignup(tx: DbOrTx) {
  await tx.execute(sql`select pg_advisory_xact_lock(7020302)`);
}
