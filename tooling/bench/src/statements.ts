import type { Sql } from "postgres";

export type StatementCost = { calls: number; totalMs: number; rows: number; query: string };

/** The costliest statements since PostgreSQL started (pg_stat_statements, --profile only). */
export async function topStatements(sql: Sql, limit: number): Promise<StatementCost[]> {
  const rows = await sql<{ calls: string; total: number; rows: string; query: string }[]>`
    select calls::text, total_exec_time as total, rows::text, query
    from pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database())
    order by total_exec_time desc
    limit ${limit}`;
  return rows.map((r) => ({
    calls: Number(r.calls),
    totalMs: r.total,
    rows: Number(r.rows),
    query: r.query.replace(/\s+/g, " ").slice(0, 160),
  }));
}
