import type { IncomingMessage } from "node:http";
import { hashSecret, parseSecret } from "@osm/keys/secrets";
import type { CachedKey } from "./cache/key-cache.ts";
import type { GatewayDeps } from "./deps.ts";
import { GatewayError } from "./errors.ts";

const invalidKey = () =>
  new GatewayError(
    "invalid_api_key",
    "Invalid API key: provide a valid osm key as 'Authorization: Bearer osm_…'.",
  );

/**
 * The key behind the Authorization header. The checksum is checked first, so a malformed or
 * mistyped key costs no I/O; state (revoked, expired, disabled) is judged by evaluate() later,
 * except an old secret whose grace ended, which is simply not a valid key any more.
 */
export async function authenticate(deps: GatewayDeps, req: IncomingMessage): Promise<CachedKey> {
  const address = req.socket.remoteAddress ?? "unknown";
  deps.authFailures.check(address);
  const fail = (reason: string) => {
    deps.metrics.authFailures.inc({ reason });
    deps.authFailures.recordFailure(address);
    return invalidKey();
  };
  const header = req.headers.authorization;
  const match = header ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  const secret = match?.[1];
  if (!secret || parseSecret(secret)?.kind !== "apiKey") {
    throw fail(secret ? "malformed" : "missing");
  }
  const key = await deps.keys.lookup(hashSecret(secret));
  if (!key || (key.previousSecretUntil !== null && key.previousSecretUntil <= deps.now())) {
    throw fail(key ? "grace_ended" : "unknown");
  }
  return key;
}
