import { embeddedDatabase } from "./embedded-postgres.ts";
import { FatalError } from "./fatal-error.ts";
import { dataDirFrom, postgresDirOf } from "./paths.ts";
import { hasPostgresCluster, startPostgres } from "./postgres.ts";
import { readState } from "./state.ts";

/**
 * Runs `use` with a database URL for operator commands: DATABASE_URL, or the embedded cluster of
 * OSM_DATA_DIR, attached to if `pnpm start` runs it, otherwise started for the command only.
 */
export async function withOperatorDatabase<T>(
  env: NodeJS.ProcessEnv,
  use: (url: string) => Promise<T>,
): Promise<T> {
  const given = env["DATABASE_URL"];
  if (given) return use(given);
  const dataDir = dataDirFrom(env);
  const dir = postgresDirOf(dataDir);
  const port = readState(dataDir).pgPort;
  if (port === undefined || !hasPostgresCluster(dir)) {
    throw new FatalError(
      `no embedded database in ${dataDir}: run pnpm start first, or set DATABASE_URL`,
    );
  }
  const pg = startPostgres({ dataDir: dir, port, reuseRunning: true });
  try {
    return await use(pg.urlFor(embeddedDatabase));
  } finally {
    if (!pg.attached) pg.stop();
  }
}
