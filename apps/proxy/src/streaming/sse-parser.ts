/** One server-sent event, with its raw text so it can be forwarded byte for byte. */
export type SseEvent = { raw: string; event: string | null; data: string | null };

/**
 * Incremental SSE parser robust to any split of the input: UTF-8 sequences cut between reads
 * (TextDecoder in stream mode), `\r\n` / `\r` / `\n` line ends, a `\r` and its `\n` arriving in
 * different reads, comments, and several events per read.
 */
export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";

  push(chunk: Uint8Array): SseEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  end(): SseEvent[] {
    this.buffer += this.decoder.decode();
    return this.drain(true);
  }

  private drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    const boundary = /(\r\n|\r(?!\n)|\n)(\r\n|\r(?!\n)|\n)/g;
    let start = 0;
    for (;;) {
      boundary.lastIndex = start;
      const match = boundary.exec(this.buffer);
      if (!match) break;
      let end = match.index + match[0].length;
      // A trailing lone "\r" may be the first half of "\r\n": wait for the next read.
      if (this.buffer[end - 1] === "\r" && end === this.buffer.length && !final) break;
      if (this.buffer[end - 1] === "\r" && this.buffer[end] === "\n") end++;
      const raw = this.buffer.slice(start, end);
      events.push(parseEvent(raw));
      start = end;
    }
    this.buffer = this.buffer.slice(start);
    if (final && this.buffer.trim().length > 0) {
      events.push(parseEvent(this.buffer));
      this.buffer = "";
    }
    return events;
  }
}

function parseEvent(raw: string): SseEvent {
  let event: string | null = null;
  let data: string[] | null = null;
  for (const line of raw.split(/\r\n|\r|\n/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      data ??= [];
      data.push(value);
    } else if (field === "event") event = value;
  }
  return { raw, event, data: data ? data.join("\n") : null };
}
