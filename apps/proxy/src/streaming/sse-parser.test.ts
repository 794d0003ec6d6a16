import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.ts";

const encoder = new TextEncoder();

function parseAll(chunks: Uint8Array[]) {
  const parser = new SseParser();
  const events = chunks.flatMap((c) => parser.push(c));
  return [...events, ...parser.end()];
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(bytes.slice(last, p));
    last = p;
  }
  parts.push(bytes.slice(last));
  return parts;
}

describe("SseParser", () => {
  const payloads = ['{"a":"héllo 🌍"}', '{"b":"日本"}', "[DONE]"];

  it.each([
    ["\\n", "\n"],
    ["\\r\\n", "\r\n"],
    ["\\r", "\r"],
  ])("parses events with %s line ends, comments and event names", (_, eol) => {
    const text = `: keep-alive${eol}${eol}event: message${eol}data: ${payloads[0]}${eol}${eol}data: ${payloads[1]}${eol}${eol}data: ${payloads[2]}${eol}${eol}`;
    const events = parseAll([encoder.encode(text)]).filter((e) => e.data !== null);
    expect(events.map((e) => e.data)).toEqual(payloads);
    expect(events[0]!.event).toBe("message");
  });

  it("joins multi-line data", () => {
    const events = parseAll([encoder.encode("data: a\ndata: b\n\n")]);
    expect(events[0]!.data).toBe("a\nb");
  });

  it("gives the same events however the bytes are split (inside UTF-8, between \\r and \\n)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.array(fc.nat(), { maxLength: 20 }),
        (eol, cuts) => {
          const text = payloads.map((p) => `data: ${p}${eol}${eol}`).join(`: ping${eol}${eol}`);
          const bytes = encoder.encode(text);
          const events = parseAll(splitAt(bytes, cuts)).filter((e) => e.data !== null);
          expect(events.map((e) => e.data)).toEqual(payloads);
          expect(events.map((e) => e.raw).join("")).toBe(
            text.replace(new RegExp(`: ping${eol}${eol}`, "g"), ""),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
