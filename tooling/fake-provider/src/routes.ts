import type { OpenAIEndpoint } from "./openai.ts";

export type Wire = "openai" | "anthropic";

export type ApiRoute =
  | { kind: "api"; wire: "openai"; endpoint: OpenAIEndpoint }
  | { kind: "api"; wire: "anthropic"; endpoint: "messages" | "models" };

export type RouteMiss = { kind: "miss"; wire: Wire; status: 404 | 405; allow: string | null };

type Entry = { method: "GET" | "POST"; resolve: (headerWire: Wire) => ApiRoute };

const table: Record<string, Entry> = {
  "/v1/chat/completions": {
    method: "POST",
    resolve: () => ({ kind: "api", wire: "openai", endpoint: "chat" }),
  },
  "/v1/embeddings": {
    method: "POST",
    resolve: () => ({ kind: "api", wire: "openai", endpoint: "embeddings" }),
  },
  "/v1/messages": {
    method: "POST",
    resolve: () => ({ kind: "api", wire: "anthropic", endpoint: "messages" }),
  },
  // Both vendors serve their model list at this path; the anthropic-version header, which
  // Anthropic clients always send, tells them apart.
  "/v1/models": { method: "GET", resolve: (wire) => ({ kind: "api", wire, endpoint: "models" }) },
};

// Errors for unknown routes are rendered in the format the client evidently speaks.
export function wireOf(headers: Record<string, string>): Wire {
  return headers["anthropic-version"] === undefined ? "openai" : "anthropic";
}

export function route(
  method: string,
  path: string,
  headers: Record<string, string>,
): ApiRoute | RouteMiss {
  const entry = Object.hasOwn(table, path) ? table[path] : undefined;
  if (!entry) return { kind: "miss", wire: wireOf(headers), status: 404, allow: null };
  const resolved = entry.resolve(wireOf(headers));
  if (method !== entry.method) {
    return { kind: "miss", wire: resolved.wire, status: 405, allow: entry.method };
  }
  return resolved;
}
