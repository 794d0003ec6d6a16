import { maxUsageTags, usageTagsSchema } from "@osm/jobs/usage-event";
import { GatewayError } from "./errors.ts";

/** The only request fields the gateway reads; everything else is forwarded untouched. */
export type ChatFields = {
  model: string;
  stream: boolean;
  includeUsage: boolean;
  maxOutputTokens: number | undefined;
  maxOutputTokensParam: "max_tokens" | "max_completion_tokens" | undefined;
  n: number;
};

export const invalid = (message: string, param: string) =>
  new GatewayError("invalid_request", message, { param });

export function parseJsonBody(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_request", "The request body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new GatewayError("invalid_request", "The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}

export function positiveInt(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${field} must be a positive integer.`, field);
  }
  return value;
}

const secretLike = /\b(osmt?_|sk-)[A-Za-z0-9_-]{8,}/g;

/** The model name as it may be logged and stored: a secret pasted into it is masked. */
export function recordedModel(model: string): string {
  return model.replace(secretLike, "[redacted]");
}

export function modelField(body: Record<string, unknown>): string {
  const model = body.model;
  if (typeof model !== "string" || model.length === 0)
    throw invalid("model is required and must be a string.", "model");
  // Model ids are short; a long value is refused before it reaches logs or the ledger.
  if (model.length > 256) throw invalid("model must be at most 256 characters.", "model");
  return model;
}

export function chatFields(body: Record<string, unknown>): ChatFields {
  const model = modelField(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw invalid("messages must be a non-empty array.", "messages");
  }
  for (const [i, m] of body.messages.entries()) {
    if (typeof m !== "object" || m === null || typeof (m as { role?: unknown }).role !== "string") {
      throw invalid(`messages[${i}] must be an object with a role.`, "messages");
    }
  }
  const stream = body.stream ?? false;
  if (typeof stream !== "boolean") throw invalid("stream must be a boolean.", "stream");
  const options = body.stream_options;
  if (
    options !== undefined &&
    options !== null &&
    (typeof options !== "object" || Array.isArray(options))
  ) {
    throw invalid("stream_options must be an object.", "stream_options");
  }
  const includeUsage = (options as { include_usage?: unknown } | null | undefined)?.include_usage;
  if (includeUsage !== undefined && typeof includeUsage !== "boolean") {
    throw invalid("stream_options.include_usage must be a boolean.", "stream_options");
  }
  const maxTokens = positiveInt(body, "max_tokens");
  const maxCompletionTokens = positiveInt(body, "max_completion_tokens");
  const n = positiveInt(body, "n") ?? 1;
  if (n > 128) throw invalid("n must be at most 128.", "n");
  const maxOutputTokens =
    maxTokens !== undefined && maxCompletionTokens !== undefined
      ? Math.min(maxTokens, maxCompletionTokens)
      : (maxCompletionTokens ?? maxTokens);
  return {
    model,
    stream,
    includeUsage: includeUsage === true,
    maxOutputTokens,
    maxOutputTokensParam:
      maxCompletionTokens !== undefined
        ? "max_completion_tokens"
        : maxTokens !== undefined
          ? "max_tokens"
          : undefined,
    n,
  };
}

export type EmbeddingFields = { model: string; input: string | string[] | number[] | number[][] };

export function embeddingFields(body: Record<string, unknown>): EmbeddingFields {
  const model = modelField(body);
  const input = body.input;
  const ok =
    typeof input === "string" ||
    (Array.isArray(input) &&
      input.length > 0 &&
      (input.every((x) => typeof x === "string") ||
        input.every((x) => typeof x === "number") ||
        input.every((x) => Array.isArray(x) && x.every((y) => typeof y === "number"))));
  if (!ok) throw invalid("input must be a string, an array of strings, or token arrays.", "input");
  return { model, input: input as string | string[] | number[] | number[][] };
}

/**
 * Who the request is for, as the client names them (OpenAI's safety_identifier, or the older
 * user field), for the log row. Recorded masked and cut to the ledger's 256 characters.
 */
export function endUserField(body: Record<string, unknown>): string | null {
  const field = body.safety_identifier != null ? "safety_identifier" : "user";
  const value = body[field];
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") throw invalid(`${field} must be a string.`, field);
  return recordedModel(value).slice(0, 256);
}

/** The optional `x-osm-tags` header: comma-separated short tags, duplicates dropped. */
export function tagsHeader(header: string | string[] | undefined): string[] | null {
  const text = Array.isArray(header) ? header.join(",") : header;
  if (text === undefined || text.trim() === "") return null;
  const tags = [...new Set(text.split(",").map((tag) => tag.trim()))];
  const parsed = usageTagsSchema.safeParse(tags);
  if (!parsed.success) {
    throw new GatewayError(
      "invalid_request",
      `x-osm-tags must be at most ${maxUsageTags} comma-separated tags, each 1-64 letters, digits or . _ : / = - starting with a letter or digit.`,
    );
  }
  return parsed.data;
}
