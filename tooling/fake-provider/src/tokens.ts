// The fake's token counting convention. Tests in other packages assert exact usage figures
// against it, so any change here is a breaking change (README.md documents the same rules).
//
// Prompt: each message costs min(bytes, ceil(bytes / 4) + 1), where bytes is the UTF-8 length
// of its text. The cap keeps the count at or below the byte count, which is the gateway's
// worst-case prompt bound, so a correct reservation is never exceeded by the fake.
// Completion: one token is one whitespace-terminated word; a streamed delta carries exactly one.

export const defaultOutputTokens = 16;

// Two-, three- and four-byte UTF-8 characters, so byte-level fragmentation splits real
// multi-byte sequences.
export const defaultWords = ["héllo ", "🌍 ", "tok ", "naïve ", "日本 "] as const;

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export function messageTokens(text: string): number {
  const bytes = utf8Length(text);
  return Math.min(bytes, Math.ceil(bytes / 4) + 1);
}

export function promptTokens(messageTexts: readonly string[]): number {
  let total = 0;
  for (const text of messageTexts) total += messageTokens(text);
  return total;
}

// Embedding inputs have no per-message overhead; a pre-tokenised input counts its own length.
export function embeddingTokens(input: string | readonly number[]): number {
  return typeof input === "string" ? Math.ceil(utf8Length(input) / 4) : input.length;
}

// Splits text into whitespace-terminated words whose concatenation is the text exactly.
export function splitWords(text: string): string[] {
  const words = text.match(/\s*\S+\s*/gu);
  if (words) return words;
  return text === "" ? [] : [text];
}
