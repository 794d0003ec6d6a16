import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { minSecretLength } from "@osm/keys/crypto-box";
import { FatalError } from "./fatal-error.ts";

/**
 * OSM_SECRET from the environment, or in embedded mode the one generated into the data dir at
 * first start. Elsewhere it must be given: a generated secret on one machine would not match the
 * database other processes share.
 */
export function resolveSecret(env: NodeJS.ProcessEnv, dataDir: string, embedded: boolean): string {
  const given = env["OSM_SECRET"];
  if (given) {
    if (given.length < minSecretLength) {
      throw new FatalError(`invalid OSM_SECRET: must be at least ${minSecretLength} characters`);
    }
    return given;
  }
  if (!embedded)
    throw new FatalError("OSM_SECRET is required when DATABASE_URL and REDIS_URL are set");
  const file = join(dataDir, "secret");
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8").trim();
    if (stored.length < minSecretLength) throw new FatalError(`${file} holds no valid secret`);
    return stored;
  }
  // 36 random bytes are 48 base64url chars (288 bits); "wx" never overwrites an existing secret.
  const secret = randomBytes(36).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  return secret;
}
