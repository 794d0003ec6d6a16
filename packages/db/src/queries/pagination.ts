/** Keyset pagination over time-sortable prefixed ids: newest first, cursor = last id seen. */
export type PageParams = { cursor?: string; limit: number };
export type Page<T> = { items: T[]; nextCursor: string | null };

export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}
