import type { IncomingMessage } from "node:http";
import { hashSecret, parseSecret } from "@osm/keys/secrets";
import type { CachedKey } from "./cache/key-cache.ts";
import type { GatewayDeps } from "./deps.ts";
import { GatewayError } from "./errors.ts";
import { throttleBucket } from "./http/client-address.ts";

const invalidKey = () =>
  new GatewayError(
    "invalid_api_key",
    "Invalid API key: provide a valid osm key as 'Authorization: Bearer osm_…'.",
  );

/**
 * The key behind the Authorization header. The checksum is checked first, so a malformed or
 * mistyped key costs no I/O; state (revoked, expired, disabled) is judged by evaluate() later,
 * except an old secret whose grace ended, which is simply not a valid key any more.
 * Failed attempts are counted per client address; a valid key is served whatever the count.
 */
export async function authenticate(deps: GatewayDeps, req: IncomingMessage): Promise<CachedKey> {
  const bucket = throttleBucket(
    deps.clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"]),
  );
  const fail = (reason: string) => {
    deps.metrics.authFailures.inc({ reason });
    const limited = deps.authFailures.limited(bucket);
    if (limited) return limited;
    deps.authFailures.recordFailure(bucket);
    return invalidKey();
  };
  const header = req.headers.authorization;
  const match = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  const secret = match?.[1];
  if (!secret || parseSecret(secret)?.kind !== "apiKey") {
    throw fail(secret ? "malformed" : "missing");
  }
  const hash = hashSecret(secret);
  // The checksum is public arithmetic: guesses that pass it would each cost a database read.
  if (!deps.keys.isCached(hash)) {
    const limited = deps.authFailures.limitedLookup(bucket);
    if (limited) throw limited;
  }
  const key = await deps.keys.lookup(hash);
  if (!key || (key.previousSecretUntil !== null && key.previousSecretUntil <= deps.now())) {
    throw fail(key ? "grace_ended" : "unknown");
  }
  return key;
}
