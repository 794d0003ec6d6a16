import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The monorepo root: apps are located from here whatever the caller's working directory. */
export const repoRoot = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

/** OSM_DATA_DIR as an absolute path (default `.data` in the repo root). */
export function dataDirFrom(env: NodeJS.ProcessEnv): string {
  return resolve(repoRoot, env["OSM_DATA_DIR"] || ".data");
}

/** Where the embedded PostgreSQL cluster and Redis keep their files inside the data dir. */
export const postgresDirOf = (dataDir: string) => resolve(dataDir, "postgres");
export const redisDirOf = (dataDir: string) => resolve(dataDir, "redis");
