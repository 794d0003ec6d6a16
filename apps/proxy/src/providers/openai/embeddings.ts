import type { EmbeddingFields } from "../../request-fields.ts";
import type { AdmittedRequest } from "../adapter.ts";
import { charge, readJson, sendJson, upstreamError } from "../answer.ts";
import { openAiErrorMessage, postOpenAi, reportedCount } from "./upstream.ts";

/** POST /v1/embeddings: input tokens only. */
export async function openAiEmbeddings(request: AdmittedRequest<EmbeddingFields>): Promise<void> {
  const upstream = await postOpenAi(request, "/embeddings", {
    ...request.body,
    model: request.model.upstreamModel,
  });
  if (upstream.status >= 400) throw await upstreamError(request, upstream, openAiErrorMessage);
  const { buffer, json } = await readJson(request, upstream);
  const usage = (json as { usage?: { prompt_tokens?: unknown } } | null)?.usage;
  charge(request, { inputTokens: reportedCount(usage?.prompt_tokens), outputTokens: 0 }, 0);
  await sendJson(request, buffer);
}
