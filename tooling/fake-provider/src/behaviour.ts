import { isNonNegativeInteger, isRecord } from "./guards.ts";

// The points in a response where a scripted fault can strike. "mid-stream" is halfway through
// the body (half the SSE events, or half the JSON bytes).
export const faultStages = ["before-headers", "after-headers", "mid-stream"] as const;
export type FaultStage = (typeof faultStages)[number];

export type ToolCallScript = {
  name: string;
  // An object is serialised with JSON.stringify; a string is sent verbatim (it may be invalid JSON).
  arguments: string | Record<string, unknown>;
};

// cached_tokens is part of prompt_tokens and reasoning_tokens part of completion_tokens, as
// OpenAI reports them.
export type UsageOverride = {
  prompt_tokens?: number;
  completion_tokens?: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
};

const usageOverrideKeys = new Set([
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "reasoning_tokens",
]);

// Plain JSON so a test in another process can send it over `POST /_fake/script`.
export type Behaviour = {
  latencyMs?: number;
  firstByteMs?: number;
  chunkDelayMs?: number;
  outputTokens?: number;
  status?: number;
  errorMessage?: string;
  retryAfter?: number | string;
  reset?: FaultStage;
  // `true` means "before-headers": the client sees nothing at all.
  hang?: boolean | FaultStage;
  gzip?: boolean;
  fragment?: boolean;
  // Seeds the fragmenter's random split points; defaults to the request's sequence number.
  seed?: number;
  crlf?: boolean;
  comments?: boolean;
  omitUsage?: boolean;
  // Usage without prompt_tokens, as some OpenAI-compatible servers send it.
  omitPromptTokens?: boolean;
  usageOverride?: UsageOverride;
  toolCall?: ToolCallScript;
  text?: string;
  authFail?: boolean;
  badJson?: boolean;
  // Responses API only: the response ends with status "failed" (`response.failed` when streamed)
  // after its output, as when the model errors mid-generation.
  failed?: boolean;
  // Anthropic streams only: an `error` event with this message halfway through, then nothing.
  streamError?: string;
};

type FieldCheck = { expected: string; test: (value: unknown) => boolean };

const isBoolean = (value: unknown) => typeof value === "boolean";
const isStage = (value: unknown) => faultStages.some((stage) => stage === value);
const nonNegativeInteger: FieldCheck = {
  expected: "a non-negative integer",
  test: isNonNegativeInteger,
};
const boolean: FieldCheck = { expected: "a boolean", test: isBoolean };

// Typed as a Record over every key so adding a Behaviour field without a check fails to compile.
const fieldChecks: Record<keyof Behaviour, FieldCheck> = {
  latencyMs: nonNegativeInteger,
  firstByteMs: nonNegativeInteger,
  chunkDelayMs: nonNegativeInteger,
  outputTokens: nonNegativeInteger,
  status: {
    expected: "an HTTP error status (400-599)",
    test: (value) => isNonNegativeInteger(value) && value >= 400 && value <= 599,
  },
  errorMessage: { expected: "a string", test: (value) => typeof value === "string" },
  retryAfter: {
    expected: "seconds or an HTTP date",
    test: (value) => isNonNegativeInteger(value) || (typeof value === "string" && value !== ""),
  },
  reset: { expected: faultStages.join(" | "), test: isStage },
  hang: {
    expected: `a boolean or ${faultStages.join(" | ")}`,
    test: (value) => isBoolean(value) || isStage(value),
  },
  gzip: boolean,
  fragment: boolean,
  seed: nonNegativeInteger,
  crlf: boolean,
  comments: boolean,
  omitUsage: boolean,
  omitPromptTokens: boolean,
  usageOverride: {
    expected:
      "{prompt_tokens?, completion_tokens?, cached_tokens?, reasoning_tokens?} with non-negative integers",
    test: (value) =>
      isRecord(value) &&
      Object.entries(value).every(
        ([key, count]) => usageOverrideKeys.has(key) && isNonNegativeInteger(count),
      ),
  },
  toolCall: {
    expected: "{name: string, arguments: string | object}",
    test: (value) =>
      isRecord(value) &&
      typeof value["name"] === "string" &&
      value["name"] !== "" &&
      (typeof value["arguments"] === "string" || isRecord(value["arguments"])),
  },
  text: { expected: "a string", test: (value) => typeof value === "string" },
  authFail: boolean,
  badJson: boolean,
  failed: boolean,
  streamError: { expected: "a string", test: (value) => typeof value === "string" },
};

function isBehaviourKey(key: string): key is keyof Behaviour {
  return Object.hasOwn(fieldChecks, key);
}

// Unknown fields are refused rather than ignored: a misspelt fault would otherwise turn a
// failure test into a silently passing happy path.
export function parseBehaviour(value: unknown): Behaviour {
  if (!isRecord(value)) throw new TypeError("behaviour must be a JSON object");
  for (const [key, field] of Object.entries(value)) {
    if (!isBehaviourKey(key)) throw new TypeError(`unknown behaviour field "${key}"`);
    if (field === undefined) continue;
    const check = fieldChecks[key];
    if (!check.test(field)) {
      throw new TypeError(`behaviour field "${key}" must be ${check.expected}`);
    }
  }
  // A deep copy, so a caller mutating its object later cannot change a scripted behaviour.
  return structuredClone(value) as Behaviour;
}

export function hangStage(behaviour: Behaviour): FaultStage | null {
  if (behaviour.hang === true) return "before-headers";
  return behaviour.hang || null;
}
