import type { RoutableModel, RoutableProvider } from "../cache/catalog-cache.ts";
import type { ChatFields, EmbeddingFields } from "../request-fields.ts";
import type { ResponsesFields } from "../responses/request-fields.ts";
import type { Route } from "../routes/route.ts";

/**
 * The gateway's operations and the fields each reads from the client's OpenAI-shaped body
 * (everything else is forwarded or translated by the adapter). A new route (e.g. responses)
 * adds its entry here and a handler in each adapter that serves it.
 */
export type OperationFields = {
  chat: ChatFields;
  embeddings: EmbeddingFields;
  responses: ResponsesFields;
};
export type Operation = keyof OperationFields;

/** A request past the front half: evaluated, routed to a model, admitted, its bounds fixed. */
export type AdmittedRequest<F = unknown> = Route & {
  body: Record<string, unknown>;
  fields: F;
  model: RoutableModel;
  provider: RoutableProvider;
  /** The prompt's token bound, computed once: reserved for, and charged if no usage comes. */
  promptTokens: number;
  /** The output bound the provider is given, clamped to what the budget affords. */
  outputBound: number;
};

/** Serves one operation on one provider kind: the upstream call, the answer and its charge. */
export type OperationHandler<O extends Operation> = (
  request: AdmittedRequest<OperationFields[O]>,
) => Promise<void>;

/**
 * One provider kind (a folder under providers/). An operation it lacks is refused by the front
 * half before anything is reserved.
 */
export type ProviderAdapter = { [O in Operation]?: OperationHandler<O> };
