import type { RoutableProvider } from "../cache/catalog-cache.ts";
import type { ProviderAdapter } from "./adapter.ts";
import { anthropicAdapter } from "./anthropic/adapter.ts";
import { openAiAdapter } from "./openai/adapter.ts";

/** Every provider kind the gateway speaks; a new kind is a folder and a line here. */
export const adapters: Record<RoutableProvider["kind"], ProviderAdapter> = {
  openai: openAiAdapter,
  anthropic: anthropicAdapter,
};
