import type { Db } from "@osm/db/client";
import { recordAudit } from "@osm/db/queries/audit";
import { deleteOtherSessions, findUserByEmail, setUserPassword } from "@osm/db/queries/auth";
import { hashPassword } from "@osm/keys/passwords";
import { randomPassword } from "./random-password.ts";

/** Sets a new random password and ends every session of that user; null for an unknown email. */
export async function resetPassword(db: Db, email: string): Promise<string | null> {
  const user = await findUserByEmail(db, email);
  if (!user) return null;
  const password = randomPassword();
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    await setUserPassword(tx, user.id, passwordHash);
    // Whoever knew the old password may hold a session: none survives the reset.
    await deleteOtherSessions(tx, user.id, null);
    await recordAudit(tx, {
      projectId: null,
      actor: { type: "system", id: null },
      action: "user.password_reset",
      targetType: "user",
      targetId: user.id,
    });
  });
  return password;
}
