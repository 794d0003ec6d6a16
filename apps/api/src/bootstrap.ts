import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordAudit } from "@osm/db/queries/audit";
import { countUsers, findUserByEmail, insertUser } from "@osm/db/queries/auth";
import { verifySecretCheck } from "@osm/db/secret-check";
import { hashPassword } from "@osm/keys/passwords";
import { setupToken } from "./auth/setup-token.ts";
import type { ApiServices } from "./context.ts";

/**
 * Start-up checks and the first owner: refuse to run with the wrong OSM_SECRET, create the
 * owner from OSM_ADMIN_EMAIL / OSM_ADMIN_PASSWORD, or print the one-time setup token.
 */
export async function bootstrapInstance(
  services: ApiServices,
): Promise<{ ok: true } | { ok: false; line: string }> {
  const { db, config } = services;
  if (!(await verifySecretCheck(db, services.box))) {
    return {
      ok: false,
      line: "osm api: invalid OSM_SECRET: it does not match the secret this database was set up with",
    };
  }
  if (config.admin && !(await findUserByEmail(db, config.admin.email))) {
    const passwordHash = await hashPassword(config.admin.password);
    await db.transaction(async (tx) => {
      const user = await insertUser(tx, config.admin!.email, passwordHash);
      await recordAudit(tx, {
        projectId: null,
        actor: { type: "system", id: null },
        action: "user.create_admin",
        targetType: "user",
        targetId: user.id,
      });
    });
    services.log.info(
      { email: config.admin.email.toLowerCase() },
      "created the owner from OSM_ADMIN_EMAIL",
    );
  }
  if ((await countUsers(db)) === 0) {
    const token = setupToken(config.secret);
    try {
      mkdirSync(config.dataDir, { recursive: true });
      writeFileSync(join(config.dataDir, "setup-token"), `${token}\n`, { mode: 0o600 });
    } catch (err) {
      services.log.warn({ err }, "could not write the setup token file");
    }
    // Printed on purpose: the operator needs it to create the first account.
    console.log(
      `osm api: no account yet. Sign up with the setup token ${token} (also in ${join(config.dataDir, "setup-token")})`,
    );
  }
  return { ok: true };
}
