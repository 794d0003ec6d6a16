import type { RoutableProvider } from "../../cache/catalog-cache.ts";
import { type ResponsesFields, unpricedPrevious } from "../../responses/request-fields.ts";
import {
  outputDeltaTypes,
  responseOutputBytes,
  responseUsage,
  terminalEventTypes,
} from "../../responses/usage.ts";
import type { Route } from "../../routes/route.ts";
import type { SseEvent } from "../../streaming/sse-parser.ts";
import type { AdmittedRequest } from "../adapter.ts";
import {
  charge,
  type ReportedUsage,
  readJson,
  relayStream,
  sendJson,
  upstreamError,
} from "../answer.ts";
import { callUpstream, readAll } from "../upstream-call.ts";
import { openAiErrorMessage, postOpenAi } from "./upstream.ts";

/**
 * POST /v1/responses on an OpenAI-compatible provider: forwarded as the client sent it (hosted
 * tools and fields the gateway does not know included), the output bound injected when the
 * client gave none, the usage read from the Response or the stream's terminal event.
 */
export async function openAiResponses(request: AdmittedRequest<ResponsesFields>): Promise<void> {
  const { fields, model, body, provider } = request;
  if (fields.previous && fields.previous.provider !== provider.id) {
    throw unpricedPrevious(fields.previousResponseId ?? "");
  }
  const upstreamBody: Record<string, unknown> = { ...body, model: model.upstreamModel };
  if (fields.maxOutputTokens === undefined) upstreamBody["max_output_tokens"] = request.outputBound;
  const upstream = await postOpenAi(
    request,
    "/responses",
    upstreamBody,
    fields.stream ? "text/event-stream" : "application/json",
  );
  if (upstream.status >= 400) throw await upstreamError(request, upstream, openAiErrorMessage);
  // A background response runs after this request ends and the gateway never sees its usage:
  // it is charged the worst case it would have reserved.
  const worstCase: ReportedUsage = {
    inputTokens: request.promptTokens,
    outputTokens: request.outputBound,
  };

  if (!fields.stream) {
    const { buffer, json } = await readJson(request, upstream);
    charge(request, fields.background ? worstCase : responseUsage(json), responseOutputBytes(json));
    await remember(request, (json as { id?: unknown } | null)?.id);
    await sendJson(request, buffer);
    return;
  }

  let responseId: unknown;
  let reported: ReportedUsage | null = null;
  let counted = 0;
  await relayStream(request, upstream, {
    onEvent(event: SseEvent): string[] {
      if (event.data === null) return [event.raw];
      try {
        const data = JSON.parse(event.data) as { type?: unknown; response?: { id?: unknown } };
        const type = typeof data.type === "string" ? data.type : event.event;
        if (type === "response.created") responseId = data.response?.id;
        if (type && outputDeltaTypes.has(type)) counted++;
        if (type && terminalEventTypes.has(type)) reported = responseUsage(data.response);
      } catch {
        // Not JSON: passed through untouched, it is the provider's to explain.
      }
      return [event.raw];
    },
    // Responses streams end with a terminal event; there is no [DONE].
    finished: () => reported !== null,
    // Without a terminal event every output delta counts as one token.
    usage: () => ({ reported: fields.background ? worstCase : reported, estimatedOutput: counted }),
    closing: async () => {
      await remember(request, responseId);
      return [];
    },
  });
}

/** Recorded so GET / DELETE / cancel reach this provider, and a continuation can be priced. */
async function remember(request: AdmittedRequest<ResponsesFields>, id: unknown) {
  if (typeof id !== "string" || id === "" || request.body["store"] === false) return;
  const { record } = request;
  await request.deps.responses.record(id, {
    projectId: record.key.projectId,
    provider: request.provider.id,
    contextTokens: record.inputTokens + record.outputTokens,
  });
}

export type ResponseAction = "retrieve" | "delete" | "cancel";

/** GET / DELETE /v1/responses/{id} or POST …/cancel on the provider that holds the response. */
export async function openAiResponseAction(
  route: Route,
  provider: RoutableProvider,
  action: ResponseAction,
  id: string,
): Promise<void> {
  const { deps, signal, record, res } = route;
  const upstream = await callUpstream(
    deps.agent,
    `${provider.baseUrl}/responses/${id}${action === "cancel" ? "/cancel" : ""}`,
    {
      method: action === "retrieve" ? "GET" : action === "delete" ? "DELETE" : "POST",
      headers: { authorization: `Bearer ${provider.apiKey}`, accept: "application/json" },
      signal,
      allowPrivate: deps.config.allowPrivateUpstreams,
    },
  );
  if (upstream.status >= 400) {
    throw await upstreamError({ signal, provider }, upstream, openAiErrorMessage);
  }
  const buffer = await readAll(upstream.body, undefined, signal);
  await route.complete();
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": buffer.length,
    "x-request-id": record.requestId,
  });
  res.end(buffer);
}
