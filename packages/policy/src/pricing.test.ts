import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PRICE_PER_1M_NANOS } from "./money.ts";
import {
  affordableOutputTokens,
  chatPromptTokenBound,
  embeddingInputTokenBound,
  HOSTED_TOOL_TOKEN_ALLOWANCE,
  IMAGE_TOKEN_ALLOWANCE,
  MESSAGE_TOKEN_OVERHEAD,
  type Prices,
  promptTokenBound,
  REQUEST_TOKEN_OVERHEAD,
  requestCost,
  reservationCost,
  responsesPromptTokenBound,
  TOOLS_TOKEN_ALLOWANCE,
  tokenCost,
  utf8ByteLength,
} from "./pricing.ts";

const M = 1_000_000n;
const tokens = fc.integer({ min: 0, max: 100_000_000 });
const price = fc.bigInt({ min: 0n, max: MAX_PRICE_PER_1M_NANOS });
const prices = fc.record({ inputPer1M: price, outputPer1M: price });

// cost is the smallest integer ≥ exact/1M: cost·1M ≥ exact and (cost − 1)·1M < exact.
function expectCeil(cost: bigint, exactTimes1M: bigint) {
  expect(cost * M).toBeGreaterThanOrEqual(exactTimes1M);
  expect((cost - 1n) * M).toBeLessThan(exactTimes1M === 0n ? 1n : exactTimes1M);
  if (exactTimes1M === 0n) expect(cost).toBe(0n);
}

describe("tokenCost", () => {
  it.each([
    [0, 150_000_000n, 0n],
    [1_000_000, 0n, 0n],
    [1, 1n, 1n], // 0.000001 nano is still charged one nano
    [1_000_000, 150_000_000n, 150_000_000n], // 1M tokens at $0.15 = $0.15
    [1_000_001, 150_000_000n, 150_000_150n],
    [3, 333_333n, 1n],
    [1_234, 2_500_000_000n, 3_085_000n], // 1 234 tokens at $2.50 per 1M
    [2 ** 53 - 1, MAX_PRICE_PER_1M_NANOS, 90_071_992_547_409_910_000_000n],
  ] as const)("%s tokens at %s nanos per 1M cost %s nanos", (count, pricePer1M, cost) => {
    expect(tokenCost(count, pricePer1M)).toBe(cost);
    expect(tokenCost(BigInt(count), pricePer1M)).toBe(cost);
  });

  it("is never below the exact value and never a nano above it", () => {
    fc.assert(
      fc.property(tokens, price, (count, pricePer1M) => {
        expectCeil(tokenCost(count, pricePer1M), BigInt(count) * pricePer1M);
      }),
    );
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    "refuses the count %s rather than guess",
    (count) => {
      expect(() => tokenCost(count, 1n)).toThrow(RangeError);
    },
  );

  it("refuses negative counts and prices", () => {
    expect(() => tokenCost(-1n, 1n)).toThrow(RangeError);
    expect(() => tokenCost(1, -1n)).toThrow(RangeError);
  });
});

describe("requestCost", () => {
  it("rounds the exact sum up once", () => {
    // Each side alone is 1e-6 nano; rounding each up would charge 2 nanos.
    expect(
      requestCost({ inputTokens: 1, outputTokens: 1 }, { inputPer1M: 1n, outputPer1M: 1n }),
    ).toBe(1n);
    expect(
      requestCost(
        { inputTokens: 1_000, outputTokens: 500 },
        { inputPer1M: 150_000_000n, outputPer1M: 600_000_000n },
      ),
    ).toBe(450_000n); // $0.00015 + $0.0003
    expect(
      requestCost({ inputTokens: 0, outputTokens: 0 }, { inputPer1M: 5n, outputPer1M: 7n }),
    ).toBe(0n);
  });

  it("is never below the exact value and never a nano above it", () => {
    fc.assert(
      fc.property(tokens, tokens, prices, (inputTokens, outputTokens, p) => {
        const exact = BigInt(inputTokens) * p.inputPer1M + BigInt(outputTokens) * p.outputPer1M;
        expectCeil(requestCost({ inputTokens, outputTokens }, p), exact);
      }),
    );
  });

  it("never charges less than its parts would", () => {
    fc.assert(
      fc.property(tokens, tokens, prices, (inputTokens, outputTokens, p) => {
        const cost = requestCost({ inputTokens, outputTokens }, p);
        expect(cost).toBeGreaterThanOrEqual(tokenCost(inputTokens, p.inputPer1M));
        expect(cost).toBeGreaterThanOrEqual(tokenCost(outputTokens, p.outputPer1M));
        expect(cost).toBeLessThanOrEqual(
          tokenCost(inputTokens, p.inputPer1M) + tokenCost(outputTokens, p.outputPer1M),
        );
      }),
    );
  });
});

describe("reservationCost", () => {
  const gpt4o: Prices = { inputPer1M: 2_500_000_000n, outputPer1M: 10_000_000_000n };

  it("bills the prompt once and the output bound n times", () => {
    expect(reservationCost({ promptTokens: 1_000, outputTokens: 4_096, n: 1 }, gpt4o)).toBe(
      2_500_000n + 40_960_000n,
    );
    expect(reservationCost({ promptTokens: 1_000, outputTokens: 4_096, n: 3 }, gpt4o)).toBe(
      2_500_000n + 3n * 40_960_000n,
    );
    expect(reservationCost({ promptTokens: 1_000, outputTokens: 4_096 }, gpt4o)).toBe(
      2_500_000n + 40_960_000n,
    );
  });

  it("is the ceiling of the exact worst case", () => {
    fc.assert(
      fc.property(tokens, tokens, fc.integer({ min: 1, max: 128 }), prices, (p, o, n, pr) => {
        const exact = BigInt(p) * pr.inputPer1M + BigInt(o) * pr.outputPer1M * BigInt(n);
        expectCeil(reservationCost({ promptTokens: p, outputTokens: o, n }, pr), exact);
      }),
    );
  });

  it("covers the actual cost of any usage within its bounds", () => {
    fc.assert(
      fc.property(tokens, tokens, fc.integer({ min: 1, max: 8 }), prices, (p, o, n, pr) => {
        const reserved = reservationCost({ promptTokens: p, outputTokens: o, n }, pr);
        expect(requestCost({ inputTokens: p, outputTokens: o * n }, pr)).toBeLessThanOrEqual(
          reserved,
        );
      }),
    );
  });
});

describe("affordableOutputTokens", () => {
  const p: Prices = { inputPer1M: 1_000_000_000n, outputPer1M: 2_000_000_000n }; // $1 / $2

  it.each([
    // remaining, prompt, n, expected: $1 in / $2 out per 1M is 1 000 / 2 000 nanos a token
    [0n, 0, 1, 0],
    [1_999n, 0, 1, 0],
    [2_000n, 0, 1, 1],
    [3_999n, 0, 1, 1],
    [1n, 1, 1, 0], // the prompt alone does not fit
    [1_000n, 1, 1, 0], // the prompt fits exactly, no output token does
    [10_000_000n, 1_000, 1, 4_500], // $0.01 minus $0.001 of prompt, at $2 per 1M
    [10_000_000n, 1_000, 4, 1_125],
  ] as const)("with %s nanos left, prompt %s, n %s: %s", (remaining, prompt, n, expected) => {
    expect(affordableOutputTokens(remaining, prompt, n, p)).toBe(expected);
  });

  it("accounts for the single rounding at sub-nano prices", () => {
    const cheap = { inputPer1M: 1n, outputPer1M: 2n }; // 1e-6 and 2e-6 nano a token
    expect(affordableOutputTokens(1n, 0, 1, cheap)).toBe(500_000);
    // The prompt's 1e-6 nano leaves room for 499 999 output tokens within 1 nano, not 500 000.
    expect(affordableOutputTokens(1n, 1, 1, cheap)).toBe(499_999);
    expect(reservationCost({ promptTokens: 1, outputTokens: 499_999 }, cheap)).toBe(1n);
    expect(reservationCost({ promptTokens: 1, outputTokens: 500_000 }, cheap)).toBe(2n);
  });

  it("answers the cap when output is free", () => {
    const free = { inputPer1M: 1n, outputPer1M: 0n };
    expect(affordableOutputTokens(1n, 0, 1, free)).toBe(Number.MAX_SAFE_INTEGER);
    expect(affordableOutputTokens(1n, 0, 1, free, 4_096)).toBe(4_096);
    expect(affordableOutputTokens(0n, 1, 1, { inputPer1M: 1_000_000n, outputPer1M: 0n })).toBe(0);
  });

  it("never answers above the cap, and stays a safe integer", () => {
    const cheap = { inputPer1M: 0n, outputPer1M: 1n };
    expect(affordableOutputTokens(10n ** 15n, 0, 1, cheap)).toBe(Number.MAX_SAFE_INTEGER);
    expect(affordableOutputTokens(10n ** 15n, 0, 1, cheap, 128_000)).toBe(128_000);
  });

  it("reservation(affordable) ≤ remaining < reservation(affordable + 1)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        tokens,
        fc.integer({ min: 1, max: 16 }),
        fc.record({
          inputPer1M: price,
          outputPer1M: fc.bigInt({ min: 1n, max: MAX_PRICE_PER_1M_NANOS }),
        }),
        (remaining, promptTokens, n, pr) => {
          const affordable = affordableOutputTokens(remaining, promptTokens, n, pr);
          expect(Number.isSafeInteger(affordable)).toBe(true);
          const promptFits = reservationCost({ promptTokens, outputTokens: 0, n }, pr) <= remaining;
          if (!promptFits) {
            expect(affordable).toBe(0);
            return;
          }
          const reserve = (outputTokens: number) =>
            reservationCost({ promptTokens, outputTokens, n }, pr);
          expect(reserve(affordable)).toBeLessThanOrEqual(remaining);
          if (affordable < Number.MAX_SAFE_INTEGER) {
            expect(reserve(affordable + 1)).toBeGreaterThan(remaining);
          }
        },
      ),
    );
  });
});

describe("utf8ByteLength", () => {
  it.each([
    ["", 0],
    ["hello", 5],
    ["é", 2],
    ["€", 3],
    ["😀", 4],
    ["日本語", 9],
    ["\ud800", 3], // a lone surrogate becomes U+FFFD
    ["\udc00x", 4],
  ])("%j is %s bytes", (text, bytes) => {
    expect(utf8ByteLength(text)).toBe(bytes);
  });

  it("agrees with Buffer.byteLength, lone surrogates included", () => {
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: anyUnit })), (text) => {
        expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, "utf8"));
      }),
    );
  });
});

describe("promptTokenBound (chat)", () => {
  const base = REQUEST_TOKEN_OVERHEAD;
  const perObject = MESSAGE_TOKEN_OVERHEAD;

  it.each([
    ["no messages", { messages: [] }, base],
    [
      "one text message (role and content bytes + one object)",
      { messages: [{ role: "user", content: "Hello" }] },
      base + perObject + 4 + 5,
    ],
    [
      "multi-byte text counts bytes, not characters",
      { messages: [{ role: "user", content: "日本語😀" }] },
      base + perObject + 4 + 13,
    ],
    [
      "text parts and a name",
      {
        messages: [
          {
            role: "user",
            name: "ann",
            content: [
              { type: "text", text: "abc" },
              { type: "text", text: "de" },
            ],
          },
        ],
      },
      base + perObject + 4 + 3 + 2 * (perObject + 4) + 3 + 2,
    ],
    [
      "an image part is the allowance, whatever its size",
      {
        messages: [
          {
            role: "user",
            content: [
              {
                type: "image_url",
                image_url: { url: `data:image/png;base64,${"A".repeat(100_000)}` },
              },
            ],
          },
        ],
      },
      base + perObject + 4 + perObject + IMAGE_TOKEN_ALLOWANCE,
    ],
    [
      "tool calls (arguments, names) and tool results",
      {
        messages: [
          {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "c1", type: "function", function: { name: "f", arguments: '{"x":1}' } },
            ],
          },
          { role: "tool", tool_call_id: "c1", content: "42" },
        ],
      },
      base + (perObject + 9 + (perObject + 2 + 8 + (perObject + 1 + 7))) + (perObject + 4 + 2 + 2),
    ],
  ])("%s", (_, body, expected) => {
    expect(promptTokenBound(body)).toBe(expected);
  });

  it("adds the tools' JSON and the tool-use allowance", () => {
    const tools = [
      { type: "function", function: { name: "get_weather", parameters: { type: "object" } } },
    ];
    const body = { messages: [], tools };
    expect(promptTokenBound(body)).toBe(
      base + Buffer.byteLength(JSON.stringify(tools)) + TOOLS_TOKEN_ALLOWANCE,
    );
    const functions = [{ name: "f", parameters: {} }];
    expect(promptTokenBound({ messages: [], functions })).toBe(
      base + Buffer.byteLength(JSON.stringify(functions)) + TOOLS_TOKEN_ALLOWANCE,
    );
    expect(promptTokenBound({ messages: [], tools: [] })).toBe(base + 2);
  });

  it("adds a response_format schema", () => {
    const response_format = { type: "json_schema", json_schema: { name: "x", schema: {} } };
    expect(promptTokenBound({ messages: [], response_format })).toBe(
      base + Buffer.byteLength(JSON.stringify(response_format)),
    );
  });

  it("takes a per-model image allowance", () => {
    const body = {
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }],
    };
    expect(chatPromptTokenBound(body, { imageTokenAllowance: 50_000 })).toBe(
      promptTokenBound(body) - IMAGE_TOKEN_ALLOWANCE + 50_000,
    );
  });

  const text = fc.string({ unit: "binary", maxLength: 200 });
  const part = fc.oneof(
    text.map((t) => ({ type: "text", text: t })),
    fc.constant({ type: "image_url", image_url: { url: "https://example.com/a.png" } }),
  );
  const message = fc.record({
    role: fc.constantFrom("system", "user", "assistant"),
    content: fc.oneof(text, fc.array(part, { maxLength: 4 })),
  });

  it("is at least the UTF-8 bytes of all text plus the allowances", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), (messages) => {
        let floor = 0;
        for (const m of messages) {
          if (typeof m.content === "string") floor += Buffer.byteLength(m.content);
          else
            for (const p of m.content)
              floor += "text" in p ? Buffer.byteLength(p.text) : IMAGE_TOKEN_ALLOWANCE;
        }
        expect(promptTokenBound({ messages })).toBeGreaterThanOrEqual(
          floor + messages.length * MESSAGE_TOKEN_OVERHEAD,
        );
      }),
    );
  });

  it("grows with every message added", () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 6 }), message, (messages, extra) => {
        expect(promptTokenBound({ messages: [...messages, extra] })).toBeGreaterThan(
          promptTokenBound({ messages }),
        );
      }),
    );
  });
});

describe("promptTokenBound (embeddings)", () => {
  it.each([
    ["a string", "hello", 5],
    ["strings", ["hello", "日本"], 11],
    ["a token array", [1, 2, 3], 3],
    ["token arrays", [[1, 2], [3], []], 3],
    ["an empty list", [], 0],
  ] as const)("%s", (_, input, expected) => {
    expect(promptTokenBound({ input })).toBe(expected);
    expect(embeddingInputTokenBound(input)).toBe(expected);
  });
});

describe("requestCost with cached input", () => {
  const prices = { inputPer1M: 2_000n, outputPer1M: 8_000n, cachedInputPer1M: 500n };
  it.each([
    { usage: { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 0 }, cost: 2_000n },
    {
      usage: { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 1_000_000 },
      cost: 500n,
    },
    {
      usage: { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 400_000 },
      cost: 1_400n,
    },
    // More cached than input is capped at the input.
    { usage: { inputTokens: 10, outputTokens: 0, cachedInputTokens: 1_000_000 }, cost: 1n },
    { usage: { inputTokens: 3, outputTokens: 1, cachedInputTokens: 1 }, cost: 1n },
  ])("charges $usage at $cost nanos", ({ usage, cost }) => {
    expect(requestCost(usage, prices)).toBe(cost);
  });

  it("charges cached tokens the full input price when the model has no cached price", () => {
    const usage = { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 900_000 };
    expect(requestCost(usage, { inputPer1M: 2_000n, outputPer1M: 0n })).toBe(2_000n);
    expect(
      requestCost(usage, { inputPer1M: 2_000n, outputPer1M: 0n, cachedInputPer1M: null }),
    ).toBe(2_000n);
  });

  it("never charges less than the cached price nor more than the uncached cost", () => {
    // A cached price at or below the input price, as every vendor's is.
    const inputAndCached = price.chain((i) =>
      fc.tuple(fc.constant(i), fc.bigInt({ min: 0n, max: i })),
    );
    fc.assert(
      fc.property(
        tokens,
        tokens,
        tokens,
        inputAndCached,
        price,
        (input, cachedRaw, output, [i, c], o) => {
          const cached = Math.min(cachedRaw, input);
          const withCache = requestCost(
            { inputTokens: input, outputTokens: output, cachedInputTokens: cached },
            { inputPer1M: i, outputPer1M: o, cachedInputPer1M: c },
          );
          const plain = requestCost(
            { inputTokens: input, outputTokens: output },
            { inputPer1M: i, outputPer1M: o },
          );
          expect(withCache).toBeLessThanOrEqual(plain);
          expectCeil(
            withCache,
            BigInt(input - cached) * i + BigInt(cached) * c + BigInt(output) * o,
          );
        },
      ),
    );
  });

  it("refuses a negative cached count", () => {
    expect(() =>
      requestCost({ inputTokens: 1, outputTokens: 0, cachedInputTokens: -1 }, prices),
    ).toThrow(RangeError);
  });
});

describe("responsesPromptTokenBound", () => {
  it("bounds string input and instructions by their bytes plus overheads", () => {
    expect(responsesPromptTokenBound({ input: "héllo", instructions: "be brief" })).toBe(
      REQUEST_TOKEN_OVERHEAD + 2 * MESSAGE_TOKEN_OVERHEAD + utf8ByteLength("héllo") + 8,
    );
  });

  it("bounds input items like chat messages, images by the allowance", () => {
    const input = [
      {
        role: "user",
        content: [
          { type: "input_text", text: "look" },
          { type: "input_image", image_url: "data:image/png;base64,AAAA" },
        ],
      },
    ];
    expect(responsesPromptTokenBound({ input })).toBe(
      chatPromptTokenBound({
        messages: [
          {
            role: "user",
            content: [
              { type: "input_text", text: "look" },
              { type: "input_image", image_url: "data:image/png;base64,AAAA" },
            ],
          },
        ],
      }),
    );
    expect(responsesPromptTokenBound({ input })).toBeGreaterThan(IMAGE_TOKEN_ALLOWANCE);
  });

  it("adds the tools allowance, and one per hosted tool", () => {
    const fn = { type: "function", name: "f", parameters: { type: "object" } };
    const plain = responsesPromptTokenBound({ input: "x" });
    const withFunction = responsesPromptTokenBound({ input: "x", tools: [fn] });
    expect(withFunction).toBe(plain + utf8ByteLength(JSON.stringify([fn])) + TOOLS_TOKEN_ALLOWANCE);
    const hosted = [fn, { type: "web_search" }];
    expect(responsesPromptTokenBound({ input: "x", tools: hosted })).toBe(
      plain +
        utf8ByteLength(JSON.stringify(hosted)) +
        TOOLS_TOKEN_ALLOWANCE +
        HOSTED_TOOL_TOKEN_ALLOWANCE,
    );
  });

  it("counts a JSON schema format", () => {
    const text = { format: { type: "json_schema", name: "x", schema: { type: "object" } } };
    expect(responsesPromptTokenBound({ input: "x", text })).toBe(
      responsesPromptTokenBound({ input: "x" }) + utf8ByteLength(JSON.stringify(text.format)),
    );
  });

  it("never bounds below the input's UTF-8 bytes", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (input, instructions) => {
        expect(responsesPromptTokenBound({ input, instructions })).toBeGreaterThanOrEqual(
          utf8ByteLength(input) + utf8ByteLength(instructions),
        );
      }),
    );
  });
});
