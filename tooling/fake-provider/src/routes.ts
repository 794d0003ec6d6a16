import type { OpenAIEndpoint } from "./openai.ts";
import type { ResponsesEndpoint } from "./responses.ts";

export type Wire = "openai" | "anthropic";

export type ApiRoute =
  | { kind: "api"; wire: "openai"; endpoint: OpenAIEndpoint }
  | { kind: "api"; wire: "openai"; endpoint: ResponsesEndpoint; responseId: string | null }
  | { kind: "api"; wire: "anthropic"; endpoint: "messages" | "models" };

export type RouteMiss = { kind: "miss"; wire: Wire; status: 404 | 405; allow: string | null };

type Entry = { method: string; resolve: (headerWire: Wire) => ApiRoute };

const table: Record<string, Entry> = {
  "/v1/chat/completions": {
    method: "POST",
    resolve: () => ({ kind: "api", wire: "openai", endpoint: "chat" }),
  },
  "/v1/embeddings": {
    method: "POST",
    resolve: () => ({ kind: "api", wire: "openai", endpoint: "embeddings" }),
  },
  "/v1/responses": {
    method: "POST",
    resolve: () => ({
      kind: "api",
      wire: "openai",
      endpoint: "responses.create",
      responseId: null,
    }),
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

// `/v1/responses/{id}` answers GET and DELETE; `/v1/responses/{id}/cancel` answers POST.
function responseEntry(path: string): Entry | undefined {
  const match = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(path);
  if (!match) return undefined;
  let responseId: string;
  try {
    responseId = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  const endpoint: ResponsesEndpoint = match[2] ? "responses.cancel" : "responses.get";
  return {
    method: match[2] ? "POST" : "GET, DELETE",
    resolve: () => ({ kind: "api", wire: "openai", endpoint, responseId }),
  };
}

export function route(
  method: string,
  path: string,
  headers: Record<string, string>,
): ApiRoute | RouteMiss {
  const entry = Object.hasOwn(table, path) ? table[path] : responseEntry(path);
  if (!entry) return { kind: "miss", wire: wireOf(headers), status: 404, allow: null };
  const resolved = entry.resolve(wireOf(headers));
  if (!entry.method.split(", ").includes(method)) {
    return { kind: "miss", wire: resolved.wire, status: 405, allow: entry.method };
  }
  if (method === "DELETE" && "responseId" in resolved) {
    return { ...resolved, endpoint: "responses.delete" };
  }
  return resolved;
}
