import { randomUUID } from "node:crypto";
import type { SseEvent } from "../../streaming/sse-parser.ts";
import type { AnthropicStreamTranslator, TokenUsage } from "./contract.ts";
import {
  anthropicErrorMessage,
  finishReason,
  isRecord,
  nowSeconds,
  openAiUsage,
  promptTokens,
  readUsage,
} from "./wire.ts";

// Anthropic stream events as OpenAI chat.completion.chunk payloads. Pure: no I/O.

export function createAnthropicStreamTranslator(
  requestedModel: string,
  options: { includeUsage: boolean; id?: string; created?: number },
): AnthropicStreamTranslator {
  const created = options.created ?? nowSeconds();
  let id = options.id;
  let started = false;
  let finishSent = false;
  let stopped = false;
  let prompt = { input: 0, cacheCreation: 0, cacheRead: 0 };
  let reportedOutput: number | null = null;
  let countedOutput = 0;
  // Anthropic block index → OpenAI tool_calls index (the call's ordinal among tool calls).
  const toolIndexes = new Map<number, number>();

  const chunkId = () => {
    id ??= `chatcmpl-${randomUUID().replaceAll("-", "")}`;
    return id;
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({
      id: chunkId(),
      object: "chat.completion.chunk",
      created,
      model: requestedModel,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  // A stream that skipped message_start still gets the role chunk OpenAI clients expect first.
  const start = (): string[] => {
    if (started) return [];
    started = true;
    return [chunk({ role: "assistant", content: "" })];
  };

  const onMessageStart = (data: Record<string, unknown>): string[] => {
    const message = isRecord(data["message"]) ? data["message"] : {};
    if (id === undefined && typeof message["id"] === "string") id = `chatcmpl-${message["id"]}`;
    const usage = readUsage(message["usage"]);
    // message_start's output_tokens is provisional (1 on the real API); message_delta's figure
    // replaces it, so it is not kept.
    if (usage) prompt = usage;
    return start();
  };

  const onBlockStart = (data: Record<string, unknown>): string[] => {
    const block = data["content_block"];
    if (!isRecord(block)) throw new Error("content_block_start without a content block.");
    const out = start();
    if (block["type"] === "text" && typeof block["text"] === "string" && block["text"] !== "") {
      countedOutput++;
      out.push(chunk({ content: block["text"] }));
    } else if (block["type"] === "tool_use") {
      if (typeof block["id"] !== "string" || typeof block["name"] !== "string") {
        throw new Error("A tool_use block has no id or name.");
      }
      const index = toolIndexes.size;
      toolIndexes.set(blockIndex(data), index);
      countedOutput++;
      out.push(
        chunk({
          tool_calls: [
            {
              index,
              id: block["id"],
              type: "function",
              function: { name: block["name"], arguments: "" },
            },
          ],
        }),
      );
    }
    return out;
  };

  const onBlockDelta = (data: Record<string, unknown>): string[] => {
    const delta = data["delta"];
    if (!isRecord(delta)) throw new Error("content_block_delta without a delta.");
    const out = start();
    if (delta["type"] === "text_delta" && typeof delta["text"] === "string") {
      if (delta["text"] === "") return out;
      countedOutput++;
      out.push(chunk({ content: delta["text"] }));
    } else if (delta["type"] === "input_json_delta" && typeof delta["partial_json"] === "string") {
      const index = toolIndexes.get(blockIndex(data));
      if (index === undefined) throw new Error("input_json_delta for an unknown tool_use block.");
      // Anthropic may open a tool's input with an empty piece; it carries nothing.
      if (delta["partial_json"] === "") return out;
      countedOutput++;
      out.push(chunk({ tool_calls: [{ index, function: { arguments: delta["partial_json"] } }] }));
    }
    // thinking / signature / citations deltas have no Chat Completions equivalent.
    return out;
  };

  const onMessageDelta = (data: Record<string, unknown>): string[] => {
    const raw = data["usage"];
    const usage = readUsage(raw);
    if (usage && isRecord(raw)) {
      // message_delta's counts are cumulative: output_tokens is the final figure, and newer API
      // versions also restate the prompt counts here, which then supersede message_start's.
      if (raw["output_tokens"] != null) reportedOutput = usage.output;
      if (raw["input_tokens"] != null) prompt = usage;
    }
    const delta = isRecord(data["delta"]) ? data["delta"] : {};
    const out = start();
    if (typeof delta["stop_reason"] === "string" && !finishSent) {
      finishSent = true;
      out.push(chunk({}, finishReason(delta["stop_reason"])));
    }
    return out;
  };

  const onMessageStop = (): string[] => {
    const out = start();
    if (!finishSent) {
      finishSent = true;
      out.push(chunk({}, "stop"));
    }
    stopped = true;
    if (options.includeUsage) {
      const u = usage();
      out.push(
        JSON.stringify({
          id: chunkId(),
          object: "chat.completion.chunk",
          created,
          model: requestedModel,
          choices: [],
          usage: openAiUsage(u.inputTokens, u.outputTokens, prompt.cacheRead),
        }),
      );
    }
    out.push("[DONE]");
    return out;
  };

  // Without message_delta usage, every content delta counts as one token (and each tool call
  // one more for its name) — the best figure a cut or usage-less stream leaves us.
  const usage = (): TokenUsage => ({
    inputTokens: promptTokens(prompt),
    outputTokens: reportedOutput ?? countedOutput,
    cachedInputTokens: prompt.cacheRead,
  });

  return {
    onEvent(event: SseEvent): string[] {
      if (stopped || event.data === null) return [];
      let data: unknown;
      try {
        data = JSON.parse(event.data);
      } catch {
        throw new Error("The provider sent a malformed stream event.");
      }
      if (!isRecord(data)) throw new Error("The provider sent a malformed stream event.");
      const type = typeof data["type"] === "string" ? data["type"] : event.event;
      switch (type) {
        case "message_start":
          return onMessageStart(data);
        case "content_block_start":
          return onBlockStart(data);
        case "content_block_delta":
          return onBlockDelta(data);
        case "message_delta":
          return onMessageDelta(data);
        case "message_stop":
          return onMessageStop();
        case "error":
          throw new Error(anthropicErrorMessage(data) ?? "The provider reported a stream error.");
        default:
          // ping, content_block_stop, and event types added by later API versions.
          return [];
      }
    },
    usage,
    finished: () => stopped,
  };
}

function blockIndex(data: Record<string, unknown>): number {
  const index = data["index"];
  if (typeof index !== "number") throw new Error("A content block event has no index.");
  return index;
}
