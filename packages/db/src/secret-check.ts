import type { CryptoBox } from "@osm/keys/crypto-box";
import type { DbOrTx } from "./client.ts";
import { ensureSetting } from "./queries/instance.ts";

/**
 * The first process to start stores a check value sealed with its OSM_SECRET; every later
 * process verifies it, so one started with a different secret refuses to run instead of
 * failing to decrypt provider credentials at request time.
 */
export async function verifySecretCheck(db: DbOrTx, box: CryptoBox): Promise<boolean> {
  const stored = await ensureSetting(db, "secret_check", box.checkValue());
  return box.verifyCheckValue(stored);
}
