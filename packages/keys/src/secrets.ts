import { hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { encodeBase62, isBase62, randomBase62 } from "./base62.ts";

// The two prefixes differ at index 3 ("_" vs "t"), so neither is a prefix of the other and a
// value can never parse as both kinds.
export const SecretKinds = { apiKey: "osm_", token: "osmt_" } as const;

export type SecretKind = keyof typeof SecretKinds;

/*
 * Entropy: 35 base62 chars carry 35 × log2(62) ≈ 208.4 bits. The display form shows 4 of them
 * and 4 checksum chars, which reveal ≈ 23.8 bits about the rest; what stays hidden is still
 * 208.4 − 23.8 − 23.8 ≈ 160.7 bits, so the contract's ≥ 160 bits hold even counted strictly.
 *
 * Checksum: CRC32 detects every error burst up to 32 bits, so every single-character
 * substitution in the prefix or body is caught; the checksum chars are compared as a fixed-width
 * encoding, so a substitution there is caught too. A mistyped key is refused with no I/O, and a
 * secret scanner can recognise real keys offline.
 */
export const secretBodyLength = 35;
// 62^6 ≈ 5.7e10 > 2^32, so every CRC32 fits in 6 base62 chars.
const checksumLength = 6;
const displayChars = 4;

function checksum(prefixAndBody: string): string {
  return encodeBase62(crc32(prefixAndBody), checksumLength);
}

export function generateSecret(kind: SecretKind): string {
  const head = SecretKinds[kind] + randomBase62(secretBodyLength);
  return head + checksum(head);
}

function kindOf(value: string): SecretKind | null {
  if (value.startsWith(SecretKinds.token)) return "token";
  if (value.startsWith(SecretKinds.apiKey)) return "apiKey";
  return null;
}

/** Shape and checksum check only: never throws, does no I/O, cost bounded by the fixed length. */
export function parseSecret(value: string): { kind: SecretKind } | null {
  // Values come straight from request headers; a non-string must not throw either.
  if (typeof value !== "string") return null;
  const kind = kindOf(value);
  if (kind === null) return null;
  const prefixLength = SecretKinds[kind].length;
  if (value.length !== prefixLength + secretBodyLength + checksumLength) return null;
  if (!isBase62(value, prefixLength)) return null;
  const split = value.length - checksumLength;
  if (checksum(value.slice(0, split)) !== value.slice(split)) return null;
  return { kind };
}

/** What the database stores: a 64-char lowercase hex SHA-256 of the full secret. */
export function hashSecret(value: string): string {
  // One-shot: no Hash object per request (every request hashes its key).
  return hash("sha256", value, "hex");
}

/** `osm_abcd…wxyz`. Throws on a malformed value so a wrong string is never partly echoed. */
export function displaySecret(value: string): string {
  const parsed = parseSecret(value);
  if (parsed === null) throw new Error("displaySecret: not a well-formed osm secret");
  const prefix = SecretKinds[parsed.kind];
  const head = value.slice(prefix.length, prefix.length + displayChars);
  return `${prefix}${head}\u2026${value.slice(-displayChars)}`;
}
