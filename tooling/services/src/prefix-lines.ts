import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

/** Copies a child's output line by line with `[name] ` in front, so interleaved logs stay readable. */
export function prefixLines(input: Readable, output: Writable, prefix: string): void {
  createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
    output.write(`${prefix}${line}\n`);
  });
}
