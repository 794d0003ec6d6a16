import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type PostgresOptions = {
  dataDir: string;
  port: number;
  /** Trade durability for speed: for throwaway test clusters only. */
  ephemeral?: boolean;
  /**
   * Attach to a server already running on this data directory instead of restarting it: for
   * tools (`pnpm osm`) that run beside a live `pnpm start`. The handle says whether it attached.
   */
  reuseRunning?: boolean;
};

export type RunningPostgres = {
  /** Connection URL of the maintenance database `postgres`. */
  adminUrl: string;
  urlFor(database: string): string;
  stop(): void;
  /** pg_ctl's own start, for tests that take PostgreSQL away and bring it back. */
  start(): void;
  /** True when reuseRunning found a live server: the caller did not start it, so leaves it up. */
  attached: boolean;
};

const superuser = "osm";

function binDir(): string {
  const fromEnv = process.env.OSM_PG_BIN;
  if (fromEnv && existsSync(join(fromEnv, "postgres"))) return fromEnv;
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin/postgres")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], "bin");
  }
  const which = spawnSync("sh", ["-c", "dirname $(command -v postgres)"], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error("PostgreSQL server binaries not found: install postgresql or set DATABASE_URL");
}

// PostgreSQL refuses to run as root, so as root every server command runs as the `postgres`
// system user that Debian's packages create.
function asServerUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) =>
    Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

function pgRun(bin: string, args: string[], user: ReturnType<typeof asServerUser>) {
  const result = spawnSync(join(binDir(), bin), args, {
    encoding: "utf8",
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    env: { ...process.env, LC_ALL: "C.UTF-8", LANG: "C.UTF-8" },
  });
  if (result.status !== 0) {
    throw new Error(
      `${bin} failed: ${(result.stderr || result.stdout || "").trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
  return result.stdout;
}

/** True once initdb has created a cluster under this data directory. */
export function hasPostgresCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, "pgdata", "PG_VERSION"));
}

/** True when a postmaster serves this data directory (`pg_ctl status`; no cluster → false). */
export function isPostgresRunning(dataDir: string): boolean {
  if (!hasPostgresCluster(dataDir)) return false;
  const pgData = join(dataDir, "pgdata");
  const user = asServerUser();
  // Exit status 0: running; 3: not running; 4: no accessible data directory.
  const result = spawnSync(join(binDir(), "pg_ctl"), ["-D", pgData, "status"], {
    encoding: "utf8",
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  return result.status === 0;
}

/** Initialises the cluster on first use and starts it; the caller owns stopping it. */
export function startPostgres(options: PostgresOptions): RunningPostgres {
  const user = asServerUser();
  const { dataDir, port } = options;
  const pgData = join(dataDir, "pgdata");
  const socketDir = join(dataDir, "socket");
  mkdirSync(socketDir, { recursive: true });
  if (user) {
    chownSync(dataDir, user.uid, user.gid);
    chownSync(socketDir, user.uid, user.gid);
  }
  if (!existsSync(join(pgData, "PG_VERSION"))) {
    pgRun(
      "initdb",
      ["-D", pgData, "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-instructions"],
      user,
    );
    const tuning = options.ephemeral
      ? ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
      : [];
    writeFileSync(
      join(pgData, "postgresql.auto.conf"),
      [
        // Only loopback and the private socket: the embedded cluster trusts local connections.
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${socketDir}'`,
        "max_connections = 300",
        ...tuning,
        "",
      ].join("\n"),
    );
    if (user) chownSync(join(pgData, "postgresql.auto.conf"), user.uid, user.gid);
  }
  const start = () => {
    pgRun(
      "pg_ctl",
      [
        "-D",
        pgData,
        "-l",
        join(dataDir, "postgres.log"),
        "-w",
        "-t",
        "60",
        "-o",
        `-p ${port}`,
        "start",
      ],
      user,
    );
  };
  const stop = () => {
    try {
      pgRun("pg_ctl", ["-D", pgData, "-m", "fast", "-w", "stop"], user);
    } catch {
      // already stopped
    }
  };
  const urlFor = (database: string) => `postgres://${superuser}@127.0.0.1:${port}/${database}`;
  const handle = (attached: boolean) => ({
    adminUrl: urlFor("postgres"),
    urlFor,
    stop,
    start,
    attached,
  });
  if (options.reuseRunning && isPostgresRunning(dataDir)) return handle(true);
  // A previous run that was killed leaves a server behind: stop it and start fresh.
  if (existsSync(join(pgData, "postmaster.pid"))) stop();
  start();
  return handle(false);
}
