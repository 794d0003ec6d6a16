import type { IncomingMessage, ServerResponse } from "node:http";

/** How much of an unwanted upload is read and dropped; past any bound the caller gives up. */
export type DiscardBounds = { bytes: number; ms: number; idleMs: number };

/**
 * Reads and drops the rest of an upload (never buffered) until it ends, goes quiet for
 * `idleMs`, passes `bytes` or `ms`; then calls `done` once.
 */
export function discardUpload(req: IncomingMessage, bounds: DiscardBounds, done: () => void) {
  let seen = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearTimeout(idle);
    done();
  };
  const timer = setTimeout(finish, bounds.ms);
  timer.unref();
  // A client that sends nothing more (it read the answer, or never meant to send the body).
  let idle = setTimeout(finish, bounds.idleMs);
  req.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    clearTimeout(idle);
    idle = setTimeout(finish, bounds.idleMs);
    if (seen > bounds.bytes) finish();
  });
  req.once("end", finish);
  req.once("error", finish);
  req.resume();
}

/**
 * Answers at once with Connection: close, but keeps the socket open while the rest of the
 * upload is discarded: closing while the client still writes would make it see a broken pipe
 * instead of the answer.
 */
export function answerThenDiscard(
  req: IncomingMessage,
  res: ServerResponse,
  answer: { status: number; body: string; headers?: Record<string, string> },
  bounds: DiscardBounds,
) {
  res.writeHead(answer.status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(answer.body),
    Connection: "close",
    ...answer.headers,
  });
  res.write(answer.body);
  discardUpload(req, bounds, () => {
    if (!res.writableEnded) res.end();
  });
}
