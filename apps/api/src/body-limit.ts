import type { IncomingMessage, ServerResponse } from "node:http";

// How much of an oversized upload is read and dropped after the 413, so that the client reads
// the answer instead of a reset connection; past either bound the connection is closed.
const discard = { bytes: 8 * 1024 * 1024, ms: 2_000, idleMs: 500 };

/** Reads and drops the rest of an upload within `discard`'s bounds, then calls `done` once. */
function drain(req: IncomingMessage, done: () => void) {
  let seen = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearTimeout(idle);
    done();
  };
  const timer = setTimeout(finish, discard.ms);
  let idle = setTimeout(finish, discard.idleMs);
  req.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    clearTimeout(idle);
    idle = setTimeout(finish, discard.idleMs);
    if (seen > discard.bytes) finish();
  });
  req.once("end", finish);
  req.once("error", finish);
  req.resume();
}

/**
 * Answers a request whose declared Content-Length is over the limit without reading its body:
 * the answer goes out at once with Connection: close, and the response ends (closing the socket)
 * once the client stopped sending or the discard bound is reached.
 */
export function answerDeclaredTooLarge(req: IncomingMessage, res: ServerResponse, limit: number) {
  const body = JSON.stringify({
    error: {
      message: `The request body exceeds ${limit} bytes.`,
      code: -32413,
      data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 },
    },
  });
  res.writeHead(413, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    Connection: "close",
  });
  res.write(body);
  drain(req, () => {
    if (!res.writableEnded) res.end();
  });
}

/**
 * A body without a declared length is counted as it streams in (tRPC's maxBodySize answers 413
 * past the limit); the upload that is still arriving then must not be read to its end.
 */
export function closeUnfinishedUploadAfter413(req: IncomingMessage, res: ServerResponse) {
  res.once("finish", () => {
    if (res.statusCode === 413 && !req.complete) drain(req, () => req.destroy());
  });
}
