import { encodeBase62, isBase62, randomBase62 } from "./base62.ts";

export const IdPrefixes = {
  user: "usr",
  session: "ses",
  project: "prj",
  invite: "inv",
  provider: "pvd",
  model: "mdl",
  key: "key",
  token: "tok",
  request: "req",
  delivery: "dlv",
  audit: "aud",
} as const;

export type IdKind = keyof typeof IdPrefixes;

// 8 timestamp chars cover 62^8 ms ≈ 6,900 years; the 14 random chars carry ≈ 83 bits, enough
// that ids minted in the same millisecond do not collide.
const timeLength = 8;
const randomLength = 14;
const bodyLength = timeLength + randomLength;

/**
 * `<prefix>_` + 22 base62 chars. The leading timestamp makes ids sort roughly by creation time,
 * so btree inserts land near the right edge of the index instead of all over it. Order within
 * one millisecond is random.
 */
export function newId(kind: IdKind): string {
  return `${IdPrefixes[kind]}_${encodeBase62(Date.now(), timeLength)}${randomBase62(randomLength)}`;
}

/** Shape check only; says nothing about whether the row exists. */
export function isId(kind: IdKind, value: string): boolean {
  if (typeof value !== "string") return false;
  const prefix = IdPrefixes[kind];
  return (
    value.length === prefix.length + 1 + bodyLength &&
    value.startsWith(prefix) &&
    value[prefix.length] === "_" &&
    isBase62(value, prefix.length + 1)
  );
}
