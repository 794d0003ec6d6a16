import { newId } from "@osm/keys/ids";
import { displaySecret, generateSecret, hashSecret } from "@osm/keys/secrets";
import type { Sql } from "postgres";

// One statement per 10,000 keys: five array parameters, whatever the count.
const keysPerStatement = 10_000;

/**
 * Inserts `count` plain keys (no policy, limit or rate limit) into the project straight into
 * the database, many rows per statement, and returns their secrets: the API would take minutes
 * for 100,000 keys, and what is measured is the proxy serving them, not their creation.
 */
export async function seedKeys(sql: Sql, projectId: string, count: number): Promise<string[]> {
  const secrets: string[] = [];
  for (let done = 0; done < count; done += keysPerStatement) {
    const n = Math.min(keysPerStatement, count - done);
    const batch = Array.from({ length: n }, () => generateSecret("apiKey"));
    await sql`
      insert into api_keys (id, project_id, label, secret_hash, display)
      select id, ${projectId}, label, secret_hash, display
      from unnest(
        ${batch.map(() => newId("key"))}::text[],
        ${batch.map((_, i) => `soak-${done + i}`)}::text[],
        ${batch.map(hashSecret)}::text[],
        ${batch.map(displaySecret)}::text[]
      ) as k(id, label, secret_hash, display)`;
    secrets.push(...batch);
  }
  return secrets;
}
