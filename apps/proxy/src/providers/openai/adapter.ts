import type { ProviderAdapter } from "../adapter.ts";
import { openAiChat } from "./chat.ts";
import { openAiEmbeddings } from "./embeddings.ts";
import { openAiResponses } from "./responses.ts";

/** OpenAI and OpenAI-compatible providers: the client's request, forwarded. */
export const openAiAdapter: ProviderAdapter = {
  chat: openAiChat,
  embeddings: openAiEmbeddings,
  responses: openAiResponses,
};
