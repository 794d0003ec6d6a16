import { describe, expect, it } from "vitest";
import { planCompletion } from "./completion.ts";
import { defaultOutputTokens, defaultWords } from "./tokens.ts";

const open = { maxTokens: null, stop: [], toolsOffered: false };

describe("planCompletion: text", () => {
  it("defaults to the default word cycle", () => {
    const plan = planCompletion({}, open);
    expect(plan.kind).toBe("text");
    if (plan.kind !== "text") return;
    expect(plan.tokens).toHaveLength(defaultOutputTokens);
    expect(plan.tokens.slice(0, defaultWords.length)).toEqual([...defaultWords]);
    expect(plan.end).toBe("natural");
  });

  it.each([
    [{ outputTokens: 5 }, 10, 5, "natural"],
    [{ outputTokens: 5 }, 5, 5, "natural"],
    [{ outputTokens: 5 }, 3, 3, "length"],
    [{}, 1, 1, "length"],
    [{ text: "one two three" }, null, 3, "natural"],
    [{ text: "one two three" }, 2, 2, "length"],
    [{ text: "one two", outputTokens: 5 }, null, 5, "natural"],
    [{ text: "" }, null, 0, "natural"],
  ] as const)("%j with max %s gives %i tokens (%s)", (behaviour, maxTokens, count, end) => {
    const plan = planCompletion(behaviour, { ...open, maxTokens });
    if (plan.kind !== "text") throw new Error("expected text");
    expect(plan.tokens).toHaveLength(count);
    expect(plan.end).toBe(end);
    expect(plan.text).toBe(plan.tokens.join(""));
  });

  it("cycles scripted text words to reach outputTokens", () => {
    const plan = planCompletion({ text: "a b", outputTokens: 3 }, open);
    expect(plan.kind === "text" && plan.text).toBe("a b a ");
  });

  it("stops before the token holding a stop sequence", () => {
    const plan = planCompletion({ text: "one two three four" }, { ...open, stop: ["thr"] });
    if (plan.kind !== "text") throw new Error("expected text");
    expect(plan.text).toBe("one two ");
    expect(plan.end).toBe("stop_sequence");
    expect(plan.stopSequence).toBe("thr");
  });

  it("prefers length when max_tokens comes before the stop sequence", () => {
    const plan = planCompletion(
      { text: "one two three four" },
      { maxTokens: 1, stop: ["three"], toolsOffered: false },
    );
    expect(plan.end).toBe("length");
  });

  it("ignores a scripted tool call when the request offers no tools", () => {
    expect(planCompletion({ toolCall: { name: "f", arguments: {} } }, open).kind).toBe("text");
  });
});

describe("planCompletion: tool call", () => {
  const behaviour = { toolCall: { name: "get_weather", arguments: { city: "Zürich" } } };

  it("splits the arguments into pieces worth one token each, plus one for the call", () => {
    const plan = planCompletion(behaviour, { ...open, toolsOffered: true });
    if (plan.kind !== "tool") throw new Error("expected tool");
    expect(plan.arguments).toBe('{"city":"Zürich"}');
    expect(plan.argumentPieces.join("")).toBe(plan.arguments);
    expect(plan.argumentPieces.length).toBeGreaterThan(1);
    expect(plan.tokens).toBe(plan.argumentPieces.length + 1);
    expect(plan.end).toBe("tool");
  });

  it("truncates the arguments at max_tokens", () => {
    const plan = planCompletion(behaviour, { maxTokens: 2, stop: [], toolsOffered: true });
    if (plan.kind !== "tool") throw new Error("expected tool");
    expect(plan.tokens).toBe(2);
    expect(plan.end).toBe("length");
  });
});
