import type { Behaviour } from "./behaviour.ts";
import type { SseEvent } from "./sse-encoding.ts";

// What a wire-format handler sees: the request already read and parsed, and the behaviour
// chosen for it. Handlers are synchronous and do no I/O; delivery applies timing and faults.
export type WireRequest = {
  headers: Record<string, string>;
  body: unknown;
  // True when a non-empty body was not valid JSON.
  bodyInvalid: boolean;
  behaviour: Behaviour;
  // Models this fake knows about, for the model listings.
  knownModels: readonly string[];
};

export type JsonReply = {
  kind: "json";
  status: number;
  headers: Record<string, string>;
  // Already serialised, so a scripted bad answer can be sent byte for byte.
  body: string;
};

export type SseReply = { kind: "sse"; headers: Record<string, string>; events: SseEvent[] };

export type Reply = JsonReply | SseReply;

export function jsonReply(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): JsonReply {
  return { kind: "json", status, headers, body: JSON.stringify(value) };
}

export function retryAfterHeaders(behaviour: Behaviour): Record<string, string> {
  return behaviour.retryAfter === undefined ? {} : { "retry-after": String(behaviour.retryAfter) };
}
