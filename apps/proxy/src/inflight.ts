import { GatewayError } from "./errors.ts";
import type { RequestAbort } from "./request-abort.ts";

/** The requests each key has in flight here, so a revocation can end them at once. */
export class InflightRegistry {
  private readonly byKey = new Map<string, Set<RequestAbort>>();

  track(keyId: string, controller: RequestAbort): () => void {
    const set = this.byKey.get(keyId) ?? new Set<RequestAbort>();
    set.add(controller);
    this.byKey.set(keyId, set);
    return () => {
      set.delete(controller);
      if (set.size === 0) this.byKey.delete(keyId);
    };
  }

  has(keyId: string): boolean {
    return this.byKey.has(keyId);
  }

  abortAll(keyId: string, reason: GatewayError): number {
    const set = this.byKey.get(keyId);
    if (!set) return 0;
    for (const controller of set) controller.abort(reason);
    return set.size;
  }

  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }
}

export function keyEndedError(state: {
  revokedAt: Date | null;
  enabled: boolean;
}): GatewayError | null {
  if (state.revokedAt)
    return new GatewayError("invalid_api_key", "Invalid API key: this key has been revoked.");
  if (!state.enabled)
    return new GatewayError("key_inactive", "Key Inactive: This API key has been disabled.");
  return null;
}
