import { type Invalidation, invalidationChannel, invalidationSchema } from "@osm/jobs/invalidation";
import type { RedisClient } from "@osm/redis/connect";
import type { Logger } from "pino";
import type { SeenVersions } from "./versions.ts";

/**
 * Listens for committed changes and hands each to the caches. After a lost connection every
 * cache is cleared, since messages published meanwhile are gone.
 */
export function subscribeInvalidations(options: {
  subscriber: RedisClient;
  prefix: string;
  versions: SeenVersions;
  log: Logger;
  onInvalidation: (invalidation: Invalidation) => void;
  onResync: () => void;
}): Promise<void> {
  const { subscriber, versions, log } = options;
  const channel = invalidationChannel(options.prefix);
  let connectedOnce = false;
  subscriber.on("ready", () => {
    if (connectedOnce) {
      log.warn("invalidation subscriber reconnected: clearing caches");
      options.onResync();
    }
    connectedOnce = true;
  });
  subscriber.on("message", (ch: string, message: string) => {
    if (ch !== channel) return;
    let parsed: Invalidation;
    try {
      parsed = invalidationSchema.parse(JSON.parse(message));
    } catch {
      log.warn("ignored a malformed invalidation message");
      return;
    }
    versions.observe(parsed.id, parsed.version);
    options.onInvalidation(parsed);
  });
  return subscriber.subscribe(channel).then(() => undefined);
}
