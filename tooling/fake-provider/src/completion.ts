import type { Behaviour } from "./behaviour.ts";
import { defaultOutputTokens, defaultWords, splitWords } from "./tokens.ts";

// Why the completion ended, before each wire format maps it to its own vocabulary.
export type CompletionEnd = "natural" | "length" | "stop_sequence" | "tool";

export type TextCompletion = {
  kind: "text";
  tokens: string[];
  text: string;
  end: "natural" | "length" | "stop_sequence";
  stopSequence: string | null;
};

export type ToolCompletion = {
  kind: "tool";
  name: string;
  arguments: string;
  // One token each; the call itself (name) is one more token.
  argumentPieces: string[];
  tokens: number;
  end: "tool" | "length";
};

export type Completion = TextCompletion | ToolCompletion;

export type CompletionRequest = {
  // The client's max_tokens / max_completion_tokens; null when it gave none.
  maxTokens: number | null;
  stop: readonly string[];
  toolsOffered: boolean;
};

// Argument JSON is split into short code-point runs so streamed tool-call deltas really carry
// partial JSON that a client must concatenate.
const argumentPieceLength = 4;

export function planCompletion(behaviour: Behaviour, request: CompletionRequest): Completion {
  if (behaviour.toolCall && request.toolsOffered) return planToolCall(behaviour, request);
  return planText(behaviour, request);
}

function planText(behaviour: Behaviour, request: CompletionRequest): TextCompletion {
  const words = behaviour.text === undefined ? [...defaultWords] : splitWords(behaviour.text);
  const wanted =
    behaviour.outputTokens ?? (behaviour.text === undefined ? defaultOutputTokens : words.length);
  const tokens: string[] = [];
  for (let i = 0; words.length > 0 && i < wanted; i++) {
    // When the text repeats, its last word needs a separator or it would fuse with the first.
    const last = tokens.length - 1;
    if (i > 0 && i % words.length === 0 && !/\s$/u.test(tokens[last]!)) tokens[last] += " ";
    tokens.push(words[i % words.length]!);
  }

  // Stop sequences act at token granularity: the token containing one is neither sent nor
  // counted, so delta counts and usage stay equal.
  const stops = request.stop.filter((stop) => stop !== "");
  const stopIndex = tokens.findIndex((token) => stops.some((stop) => token.includes(stop)));
  const limit = Math.min(request.maxTokens ?? Number.POSITIVE_INFINITY, tokens.length);
  if (stopIndex !== -1 && stopIndex < limit) {
    const kept = tokens.slice(0, stopIndex);
    const stopSequence = stops.find((stop) => tokens[stopIndex]!.includes(stop)) ?? null;
    return { kind: "text", tokens: kept, text: kept.join(""), end: "stop_sequence", stopSequence };
  }
  const kept = tokens.slice(0, limit);
  const end = kept.length < tokens.length ? "length" : "natural";
  return { kind: "text", tokens: kept, text: kept.join(""), end, stopSequence: null };
}

function planToolCall(behaviour: Behaviour, request: CompletionRequest): ToolCompletion {
  const call = behaviour.toolCall!;
  const full = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments);
  const codePoints = Array.from(full);
  let pieces: string[] = [];
  for (let i = 0; i < codePoints.length; i += argumentPieceLength) {
    pieces.push(codePoints.slice(i, i + argumentPieceLength).join(""));
  }
  let end: ToolCompletion["end"] = "tool";
  const bound = request.maxTokens ?? Number.POSITIVE_INFINITY;
  if (pieces.length + 1 > bound) {
    pieces = pieces.slice(0, Math.max(0, bound - 1));
    end = "length";
  }
  return {
    kind: "tool",
    name: call.name,
    arguments: pieces.join(""),
    argumentPieces: pieces,
    tokens: pieces.length + 1,
    end,
  };
}
