import { describe, expect, it } from "vitest";
import { createFragmenter } from "./fragmenter.ts";

function run(seed: number, inputs: string[]) {
  const fragmenter = createFragmenter(seed);
  const pieces = inputs.flatMap((input) => fragmenter.push(Buffer.from(input, "utf8")));
  pieces.push(...fragmenter.flush());
  return pieces;
}

describe("createFragmenter", () => {
  const events = [
    'data: {"content":"héllo 🌍 日本"}\r\n\r\n',
    'data: {"content":"naïve"}\r\n\r\n',
    "data: [DONE]\r\n\r\n",
  ];

  it("loses and reorders nothing", () => {
    for (const seed of [1, 2, 3, 42, 9999]) {
      expect(Buffer.concat(run(seed, events)).toString("utf8")).toBe(events.join(""));
    }
  });

  it("always splits inside the first multi-byte character and between the first CR and LF", () => {
    for (const seed of [1, 2, 3, 42, 9999]) {
      const pieces = run(seed, events);
      const endsInsideCharacter = pieces.some((piece) => {
        const next = pieces[pieces.indexOf(piece) + 1];
        return next !== undefined && next.length > 0 && (next[0]! & 0xc0) === 0x80;
      });
      expect(endsInsideCharacter).toBe(true);
      expect(pieces.some((piece) => piece.at(-1) === 0x0d)).toBe(true);
    }
  });

  it("is reproducible for a seed", () => {
    const lengths = (seed: number) => run(seed, events).map((piece) => piece.length);
    expect(lengths(7)).toEqual(lengths(7));
  });
});
