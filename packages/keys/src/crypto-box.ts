import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export type CryptoBox = {
  encrypt(plaintext: string): string;
  /** Throws if the value is malformed, was tampered with, or was sealed under another secret. */
  decrypt(box: string): string;
  /** A fresh encryption of a fixed plaintext, to store once and compare at every start. */
  checkValue(): string;
  /** False (never throws) if the value is malformed or was sealed under another secret. */
  verifyCheckValue(value: string): boolean;
};

export const minSecretLength = 32;

const version = "v1";
// Changing the info string derives a different key, i.e. it is a breaking format change.
const hkdfInfo = "osm/crypto-box/v1/aes-256-gcm";
const checkPlaintext = "osm/crypto-box/check-value/v1";
// Random 96-bit IVs stay safe up to ~2^32 encryptions per key (NIST SP 800-38D); stored
// credentials are encrypted a handful of times per edit, nowhere near that.
const ivLength = 12;
const tagLength = 16;
const base64Url = /^[A-Za-z0-9_-]*$/;

type Opened = { ok: true; plaintext: string } | { ok: false; reason: "malformed" | "unauthentic" };

// Buffer's base64url decoder skips invalid chars and ignores trailing bits, so several strings
// decode to the same bytes; only the canonical spelling is accepted.
function decodePart(part: string, expectedLength?: number): Buffer | null {
  if (!base64Url.test(part)) return null;
  const bytes = Buffer.from(part, "base64url");
  if (expectedLength !== undefined && bytes.length !== expectedLength) return null;
  if (bytes.toString("base64url") !== part) return null;
  return bytes;
}

export function createCryptoBox(secret: string): CryptoBox {
  if (typeof secret !== "string" || secret.length < minSecretLength) {
    throw new Error(`crypto-box: the secret must be at least ${minSecretLength} characters`);
  }
  // HKDF rather than a password KDF: the secret is operator-generated and long, not a password.
  // No salt, because the key must be reproducible from the secret alone.
  const key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), hkdfInfo, 32));

  function encrypt(plaintext: string): string {
    const iv = randomBytes(ivLength);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: tagLength });
    cipher.setAAD(Buffer.from(version));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      version,
      iv.toString("base64url"),
      tag.toString("base64url"),
      ciphertext.toString("base64url"),
    ].join(".");
  }

  function open(box: string): Opened {
    if (typeof box !== "string") return { ok: false, reason: "malformed" };
    const parts = box.split(".");
    if (parts.length !== 4 || parts[0] !== version) return { ok: false, reason: "malformed" };
    const iv = decodePart(parts[1] ?? "", ivLength);
    const tag = decodePart(parts[2] ?? "", tagLength);
    const ciphertext = decodePart(parts[3] ?? "");
    if (iv === null || tag === null || ciphertext === null) {
      return { ok: false, reason: "malformed" };
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: tagLength });
      decipher.setAAD(Buffer.from(version));
      decipher.setAuthTag(tag);
      const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      return { ok: true, plaintext: plaintext.toString("utf8") };
    } catch {
      return { ok: false, reason: "unauthentic" };
    }
  }

  return {
    encrypt,
    decrypt(box) {
      const opened = open(box);
      if (opened.ok) return opened.plaintext;
      // Never echo the value: it may be a credential pasted into the wrong field.
      throw new Error(
        opened.reason === "malformed"
          ? `crypto-box: malformed value (expected ${version}.<iv>.<tag>.<ciphertext>)`
          : "crypto-box: cannot decrypt: the value was tampered with or encrypted under a different OSM_SECRET",
      );
    },
    checkValue: () => encrypt(checkPlaintext),
    verifyCheckValue(value) {
      const opened = open(value);
      return opened.ok && opened.plaintext === checkPlaintext;
    },
  };
}
