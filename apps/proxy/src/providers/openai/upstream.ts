import type { AdmittedRequest } from "../adapter.ts";
import { callUpstream, type UpstreamResponse } from "../upstream-call.ts";

// The OpenAI wire: one base URL, bearer credentials, JSON bodies. Every OpenAI operation
// (chat, embeddings, and whatever route comes next) goes through here.

/** POSTs `body` to `${baseUrl}${path}` (e.g. "/chat/completions") with the provider's key. */
export function postOpenAi(
  request: AdmittedRequest,
  path: `/${string}`,
  body: Record<string, unknown>,
  accept?: "application/json" | "text/event-stream",
): Promise<UpstreamResponse> {
  const { deps, provider, signal } = request;
  return callUpstream(deps.agent, `${provider.baseUrl}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${provider.apiKey}`,
      "content-type": "application/json",
      ...(accept ? { accept } : {}),
    },
    body: JSON.stringify(body),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
  });
}

/** The message of an OpenAI error body, if it has one. */
export function openAiErrorMessage(json: unknown): string | null {
  const message = (json as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === "string" ? message : null;
}

/** A usage count as OpenAI sends it; anything else counts as not sent. */
export const reportedCount = (value: unknown): number | null =>
  typeof value === "number" ? value : null;
