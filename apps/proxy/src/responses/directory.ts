import type { RedisClient } from "@osm/redis/connect";
import type { Logger } from "pino";
import { GatewayError } from "../errors.ts";

/**
 * Which project and provider hold a response the gateway forwarded, and how large its context
 * is (input + output tokens: what a request continuing it with previous_response_id carries).
 * Kept in Redis for as long as OpenAI keeps a stored response, so any proxy can route
 * GET / DELETE / cancel to the right provider and only for the project that created it.
 */
export type StoredResponse = { projectId: string; provider: string; contextTokens: number };

// OpenAI retains stored responses for 30 days.
const ttlSeconds = 30 * 24 * 3600;

export class ResponseDirectory {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  private key(id: string) {
    return `${this.prefix}response:${id}`;
  }

  /** Best effort: a response that could not be recorded can still be used, just not retrieved. */
  async record(id: string, entry: StoredResponse): Promise<void> {
    try {
      await this.redis.set(this.key(id), JSON.stringify(entry), "EX", ttlSeconds);
    } catch (err) {
      this.log.warn({ err: String(err), responseId: id }, "response directory write failed");
    }
  }

  async find(id: string): Promise<StoredResponse | null> {
    let text: string | null;
    try {
      text = await this.redis.get(this.key(id));
    } catch {
      throw new GatewayError(
        "service_unavailable",
        "The gateway cannot look up stored responses right now; try again shortly.",
      );
    }
    if (text === null) return null;
    try {
      return JSON.parse(text) as StoredResponse;
    } catch {
      return null;
    }
  }

  async forget(id: string): Promise<void> {
    await this.redis.del(this.key(id)).catch(() => {});
  }
}
