import { randomInt } from "node:crypto";

// No look-alike characters (0/O, 1/l/I): the password is read off a terminal and typed.
const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** 16 chars of a 57-char alphabet ≈ 93 bits; randomInt draws without modulo bias. */
export function randomPassword(length = 16): string {
  let password = "";
  for (let i = 0; i < length; i++) password += alphabet[randomInt(alphabet.length)];
  return password;
}
