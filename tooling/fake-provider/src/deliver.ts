import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { setImmediate, setTimeout } from "node:timers/promises";
import { constants, createGzip, gzipSync } from "node:zlib";
import { type Behaviour, type FaultStage, hangStage } from "./behaviour.ts";
import { createFragmenter, type Fragmenter } from "./fragmenter.ts";
import { encodeSseComment, encodeSseEvent } from "./sse-encoding.ts";
import type { JsonReply, Reply, SseReply } from "./wire.ts";

export type Delivery = {
  res: ServerResponse;
  behaviour: Behaviour;
  // Aborted when the client goes away; every wait below gives up with it.
  signal: AbortSignal;
  acceptsGzip: boolean;
  seed: number;
  // Called just before the fake itself destroys the socket, so that is not mistaken for a
  // client abort.
  onReset: () => void;
};

// Writes a reply, applying the behaviour's timing and faults in the order a real upstream
// would show them: latency, headers, first-byte delay, paced body.
export async function deliver(reply: Reply, delivery: Delivery): Promise<void> {
  await pause(delivery.behaviour.latencyMs, delivery.signal);
  if (await interrupted("before-headers", delivery)) return;
  if (reply.kind === "json") await deliverJson(reply, delivery);
  else await deliverSse(reply, delivery);
}

async function deliverJson(reply: JsonReply, delivery: Delivery): Promise<void> {
  const { res, behaviour, signal } = delivery;
  const gzip = useGzip(delivery);
  let bytes = Buffer.from(reply.body, "utf8");
  if (gzip) bytes = gzipSync(bytes);
  res.writeHead(reply.status, {
    ...reply.headers,
    "content-type": "application/json",
    "content-length": String(bytes.length),
    ...encodingHeaders(behaviour, gzip),
  });
  res.flushHeaders();
  if (await interrupted("after-headers", delivery)) return;
  await pause(behaviour.firstByteMs, signal);
  const sink = createSink(res, { gzip: false, fragmenter: fragmenterFor(delivery), signal });
  if (faultsMidStream(behaviour)) {
    const half = Math.floor(bytes.length / 2);
    await sink.write(bytes.subarray(0, half));
    if (await interrupted("mid-stream", delivery)) return;
    bytes = bytes.subarray(half);
  }
  await sink.write(bytes);
  await sink.end();
}

// Keep-alive comments are interleaved at this period, counted in events.
const commentEvery = 3;

async function deliverSse(reply: SseReply, delivery: Delivery): Promise<void> {
  const { res, behaviour, signal } = delivery;
  const gzip = useGzip(delivery);
  res.writeHead(200, {
    ...reply.headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    ...encodingHeaders(behaviour, gzip),
  });
  res.flushHeaders();
  if (await interrupted("after-headers", delivery)) return;
  await pause(behaviour.firstByteMs, signal);
  const sink = createSink(res, { gzip, fragmenter: fragmenterFor(delivery), signal });
  const crlf = behaviour.crlf === true;
  const midpoint = Math.max(1, Math.floor(reply.events.length / 2));
  for (const [index, event] of reply.events.entries()) {
    if (index > 0) await pause(behaviour.chunkDelayMs, signal);
    if (index === midpoint && (await interrupted("mid-stream", delivery))) return;
    let text = "";
    if (behaviour.comments && index % commentEvery === 0)
      text += encodeSseComment("keep-alive", crlf);
    text += encodeSseEvent(event, crlf);
    await sink.write(Buffer.from(text, "utf8"));
  }
  await sink.end();
}

async function interrupted(stage: FaultStage, delivery: Delivery): Promise<boolean> {
  if (delivery.behaviour.reset === stage) {
    // What was written must reach the client first, or "after-headers" and "mid-stream" would
    // be indistinguishable from "before-headers".
    if (delivery.res.headersSent) await flushed(delivery.res, delivery.signal);
    delivery.onReset();
    // An RST rather than a FIN, as a crashed upstream or a dropped connection would produce.
    delivery.res.socket?.resetAndDestroy();
    delivery.res.destroy();
    return true;
  }
  if (hangStage(delivery.behaviour) === stage) await untilAborted(delivery.signal);
  return false;
}

async function flushed(res: ServerResponse, signal: AbortSignal): Promise<void> {
  // node:http corks the socket while a response is written and uncorks it on the next tick.
  await setImmediate(undefined, { signal });
  const socket = res.socket;
  if (socket && socket.writableLength > 0) await once(socket, "drain", { signal });
}

function faultsMidStream(behaviour: Behaviour): boolean {
  return behaviour.reset === "mid-stream" || hangStage(behaviour) === "mid-stream";
}

function useGzip(delivery: Delivery): boolean {
  return delivery.behaviour.gzip === true && delivery.acceptsGzip;
}

function encodingHeaders(behaviour: Behaviour, gzip: boolean): Record<string, string> {
  if (!behaviour.gzip) return {};
  return gzip
    ? { "content-encoding": "gzip", vary: "accept-encoding" }
    : { vary: "accept-encoding" };
}

function fragmenterFor(delivery: Delivery): Fragmenter | null {
  if (!delivery.behaviour.fragment) return null;
  return createFragmenter(delivery.behaviour.seed ?? delivery.seed);
}

async function pause(ms: number | undefined, signal: AbortSignal): Promise<void> {
  if (ms) await setTimeout(ms, undefined, { signal });
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

type Sink = { write(bytes: Uint8Array): Promise<void>; end(): Promise<void> };

function createSink(
  res: ServerResponse,
  options: { gzip: boolean; fragmenter: Fragmenter | null; signal: AbortSignal },
): Sink {
  const { fragmenter, signal } = options;
  const gzip = options.gzip ? createGzip() : null;
  if (gzip) {
    gzip.on("data", (chunk: Buffer) => res.write(chunk));
    signal.addEventListener("abort", () => gzip.destroy(), { once: true });
  }

  // A sync flush after every piece keeps a compressed stream incremental: the client
  // decompresses each event (or fragment) as soon as it is written.
  async function writePiece(piece: Uint8Array): Promise<void> {
    if (gzip) {
      gzip.write(piece);
      await new Promise<void>((resolve) => gzip.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    } else if (!res.write(piece)) {
      await once(res, "drain", { signal });
    }
  }

  async function writePieces(pieces: readonly Uint8Array[]): Promise<void> {
    for (const piece of pieces) {
      await writePiece(piece);
      // Yielding to the event loop lets each piece leave as its own TCP segment.
      if (fragmenter) await setImmediate(undefined, { signal });
    }
  }

  return {
    async write(bytes) {
      await writePieces(fragmenter ? fragmenter.push(bytes) : [bytes]);
    },
    async end() {
      if (fragmenter) await writePieces(fragmenter.flush());
      if (gzip) {
        gzip.end();
        await once(gzip, "end", { signal });
      }
      res.end();
    },
  };
}
