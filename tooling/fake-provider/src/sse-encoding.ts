// Server-sent events framing (WHATWG HTML §9.2), with either line ending the spec allows.

export type SseEvent = { event?: string; data: string };

export function encodeSseEvent(message: SseEvent, crlf: boolean): string {
  const eol = crlf ? "\r\n" : "\n";
  const lines = message.event === undefined ? [] : [`event: ${message.event}`];
  for (const line of message.data.split("\n")) lines.push(`data: ${line}`);
  return lines.join(eol) + eol + eol;
}

export function encodeSseComment(comment: string, crlf: boolean): string {
  const eol = crlf ? "\r\n" : "\n";
  return `: ${comment}${eol}${eol}`;
}
