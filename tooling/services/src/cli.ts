// `pnpm osm <command>`: operator commands against the instance's database.
import { createDb } from "@osm/db/client";
import { runMigrations } from "@osm/db/migrate";
import { describeError, FatalError } from "./fatal-error.ts";
import { withOperatorDatabase } from "./operator-database.ts";
import { resetPassword } from "./reset-password.ts";

const usage = `usage: pnpm osm <command>

commands:
  migrate                  apply the database migrations (once per release, before the apps)
  reset-password <email>   set a new random password for that user and end their sessions

Uses DATABASE_URL, or the embedded database under OSM_DATA_DIR (default .data).
`;

async function resetPasswordCommand(email: string): Promise<void> {
  const password = await withOperatorDatabase(process.env, async (url) => {
    const { db, close } = createDb({ url, max: 1, applicationName: "osm-cli" });
    try {
      return await resetPassword(db, email);
    } finally {
      await close();
    }
  });
  if (password === null) throw new FatalError(`no user with email ${email}`);
  process.stdout.write(`osm: new password for ${email} (shown once): ${password}\n`);
}

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === "migrate" && args.length === 0) {
    await withOperatorDatabase(process.env, (url) => runMigrations(url));
    process.stdout.write("osm: the database is up to date\n");
    return 0;
  }
  if (command === "reset-password" && args.length === 1 && args[0]) {
    await resetPasswordCommand(args[0]);
    return 0;
  }
  process.stderr.write(usage);
  return 2;
}

const code = await run(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`osm: ${describeError(error)}\n`);
  return 1;
});
process.exit(code);
