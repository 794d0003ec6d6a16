import { eq } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { instanceSettings } from "../schema/instance.ts";

export async function getSetting(db: DbOrTx, name: string): Promise<string | undefined> {
  const [row] = await db.select().from(instanceSettings).where(eq(instanceSettings.name, name));
  return row?.value;
}

/** Inserts the value unless one exists; returns the value now stored (first writer wins). */
export async function ensureSetting(db: DbOrTx, name: string, value: string): Promise<string> {
  await db.insert(instanceSettings).values({ name, value }).onConflictDoNothing();
  return (await getSetting(db, name))!;
}

export async function setSetting(db: DbOrTx, name: string, value: string): Promise<void> {
  await db
    .insert(instanceSettings)
    .values({ name, value })
    .onConflictDoUpdate({ target: instanceSettings.name, set: { value, updatedAt: new Date() } });
}
