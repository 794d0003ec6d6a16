import type { IncomingMessage } from "node:http";
import { GatewayError } from "../errors.ts";

/**
 * Reads the request body up to `limit` bytes. Past the limit it stops buffering and rejects
 * with request_too_large; the caller answers with Connection: close and the rest is discarded
 * as it arrives (never buffered), so the client gets to read the 413.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) {
    req.resume();
    return Promise.reject(
      new GatewayError("request_too_large", `The request body exceeds ${limit} bytes.`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(new GatewayError("request_too_large", `The request body exceeds ${limit} bytes.`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    // The client stalled (request timeout) or went away mid-upload: its fault, not the provider's.
    const clientGone = () => {
      if (done) return;
      done = true;
      reject(new GatewayError("request_timeout", "The request body did not arrive in full."));
    };
    req.once("error", clientGone);
    req.once("aborted", clientGone);
    req.once("close", () => {
      if (!req.complete) clientGone();
    });
  });
}
