import { GatewayError } from "../../errors.ts";
import type { RequestSignal } from "../../request-abort.ts";
import type { AdmittedRequest } from "../adapter.ts";
import { upstreamError } from "../answer.ts";
import {
  callUpstream,
  readAll,
  scrub,
  type UpstreamResponse,
  upstreamFailure,
} from "../upstream-call.ts";
import { fromAnthropicResponse } from "./response.ts";
import { anthropicErrorMessage } from "./wire.ts";

// The Anthropic wire: the Messages endpoint, x-api-key credentials, a pinned API version. Every
// operation served by translation (chat, responses) goes through here.

/** POSTs an already translated Messages body; an error status is thrown in the contract's terms. */
export async function postMessages(
  request: AdmittedRequest,
  body: Record<string, unknown>,
  stream: boolean,
): Promise<UpstreamResponse> {
  const { deps, provider, signal, trace } = request;
  const upstream = await callUpstream(deps.agent, `${provider.baseUrl}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": provider.apiKey,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
      accept: stream ? "text/event-stream" : "application/json",
    },
    body: JSON.stringify(body),
    signal,
    allowPrivate: deps.config.allowPrivateUpstreams,
    trace,
  });
  if (upstream.status >= 400) throw await upstreamError(request, upstream, anthropicErrorMessage);
  return upstream;
}

/** The stream translator throws a plain Error for the provider's error event or a malformed one. */
export function streamFailure(apiKey: string) {
  return (err: unknown, aborted: RequestSignal) =>
    err instanceof Error &&
    !(err instanceof GatewayError) &&
    !aborted.aborted &&
    !(err as { code?: string }).code
      ? new GatewayError(
          "upstream_error",
          `The provider failed mid-stream: ${scrub(err.message, [apiKey])}`,
        )
      : upstreamFailure(err, aborted);
}

/** A whole Messages answer as a chat completion; one that cannot be read is an upstream error. */
export async function readMessage(
  request: AdmittedRequest,
  upstream: UpstreamResponse,
  requestedModel: string,
): Promise<ReturnType<typeof fromAnthropicResponse>> {
  const buffer = await readAll(upstream.body, undefined, request.signal);
  try {
    return fromAnthropicResponse(JSON.parse(buffer.toString("utf8")), requestedModel);
  } catch {
    throw new GatewayError("upstream_error", "The provider's answer could not be read.");
  }
}
