import type { ProviderAdapter } from "../adapter.ts";
import { anthropicChat } from "./chat.ts";
import { anthropicResponses } from "./responses.ts";

/** Anthropic's Messages API behind the OpenAI wire; it has no embeddings. */
export const anthropicAdapter: ProviderAdapter = {
  chat: anthropicChat,
  responses: anthropicResponses,
};
