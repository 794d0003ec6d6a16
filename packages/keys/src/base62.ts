import { randomFillSync } from "node:crypto";

// ASCII order, so fixed-width encodings sort as strings in the same order as the numbers.
export const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// 248 = 4 × 62: bytes at or above it are dropped so that `byte % 62` is exactly uniform.
const rejectionLimit = 248;

const base62Values = new Int8Array(128).fill(-1);
for (let i = 0; i < base62Alphabet.length; i++) {
  base62Values[base62Alphabet.charCodeAt(i)] = i;
}

// One draw from the CSPRNG serves many ids: a call per id (every request mints one) cost an
// allocation and a trip into OpenSSL each time, a measurable share of the proxy's CPU. Each
// byte is used once.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    // ~3% of bytes are rejected.
    const byte = randomByte();
    if (byte < rejectionLimit) out += base62Alphabet[byte % 62];
  }
  return out;
}

/** Encodes a non-negative safe integer as exactly `width` base62 digits, most significant first. */
export function encodeBase62(value: number, width: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`base62: cannot encode ${value}`);
  }
  let rest = value;
  let out = "";
  for (let i = 0; i < width; i++) {
    out = base62Alphabet[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  if (rest !== 0) throw new RangeError(`base62: ${value} does not fit in ${width} digits`);
  return out;
}

/**
 * Decodes base62 digits; returns -1 if any character is outside the alphabet. Exact up to 8
 * digits (62^8 < 2^53); longer inputs lose precision.
 */
export function decodeBase62(value: string): number {
  let out = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = base62Values[value.charCodeAt(i)] ?? -1;
    if (digit < 0) return -1;
    out = out * 62 + digit;
  }
  return out;
}

export function isBase62(value: string, start = 0, end = value.length): boolean {
  for (let i = start; i < end; i++) {
    if ((base62Values[value.charCodeAt(i)] ?? -1) < 0) return false;
  }
  return true;
}
