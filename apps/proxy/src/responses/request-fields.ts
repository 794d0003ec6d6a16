import { GatewayError } from "../errors.ts";
import { invalid, modelField, positiveInt } from "../request-fields.ts";
import type { StoredResponse } from "./directory.ts";

/** The only Responses request fields the gateway reads; everything else is forwarded untouched. */
export type ResponsesFields = {
  model: string;
  stream: boolean;
  maxOutputTokens: number | undefined;
  background: boolean;
  previousResponseId: string | undefined;
  /** What makes the prompt's size unknowable before forwarding, other than previous_response_id. */
  unpriceable: { param: string; what: string } | null;
  /** The response previous_response_id continues, when this gateway forwarded it. */
  previous: StoredResponse | null;
};

export function responsesFields(body: Record<string, unknown>): ResponsesFields {
  const model = modelField(body);
  const { input, instructions, stream = false, background = false } = body;
  const previous = body["previous_response_id"] ?? undefined;
  const contextual =
    previous !== undefined || body["conversation"] != null || body["prompt"] != null;
  if (input === undefined || input === null) {
    if (!contextual) throw invalid("input is required.", "input");
  } else if (
    typeof input !== "string" &&
    !(Array.isArray(input) && input.every((item) => isRecord(item)))
  ) {
    throw invalid("input must be a string or an array of items.", "input");
  }
  if (instructions != null && typeof instructions !== "string") {
    throw invalid("instructions must be a string.", "instructions");
  }
  if (typeof stream !== "boolean") throw invalid("stream must be a boolean.", "stream");
  if (typeof background !== "boolean") throw invalid("background must be a boolean.", "background");
  if (previous !== undefined && (typeof previous !== "string" || previous === "")) {
    throw invalid("previous_response_id must be a non-empty string.", "previous_response_id");
  }
  return {
    model,
    stream,
    maxOutputTokens: positiveInt(body, "max_output_tokens"),
    background,
    previousResponseId: previous,
    unpriceable: unpriceable(body),
    previous: null,
  };
}

function unpriceable(body: Record<string, unknown>): ResponsesFields["unpriceable"] {
  if (body["conversation"] != null) {
    return { param: "conversation", what: "A conversation's stored context" };
  }
  if (body["background"] === true) {
    return {
      param: "background",
      what: "A background response, whose usage the gateway never sees,",
    };
  }
  if (body["prompt"] != null) return { param: "prompt", what: "A stored prompt template" };
  if (Array.isArray(body["input"]) && body["input"].some(referencesStoredContent)) {
    return { param: "input", what: "Input referring to stored files or items" };
  }
  return null;
}

// Content held by the provider (uploaded files, earlier items) whose size the body does not show.
function referencesStoredContent(item: unknown): boolean {
  if (!isRecord(item)) return false;
  if (item["type"] === "item_reference") return true;
  const content = item["content"];
  if (!Array.isArray(content)) return false;
  return content.some(
    (part) =>
      isRecord(part) &&
      ((part["type"] === "input_file" && (part["file_id"] != null || part["file_url"] != null)) ||
        (part["type"] === "input_image" && part["file_id"] != null)),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A previous_response_id a key with a spending limit cannot continue: its context is unknown. */
export function unpricedPrevious(id: string) {
  return new GatewayError(
    "invalid_request",
    `previous_response_id ${id.slice(0, 100)} was not created through this gateway for this project and provider, so its context cannot be priced; keys with a spending limit can only continue such responses.`,
    { param: "previous_response_id" },
  );
}
