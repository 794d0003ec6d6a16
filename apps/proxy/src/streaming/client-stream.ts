import type { ServerResponse } from "node:http";
import { type GatewayError, sseErrorEvent } from "../errors.ts";

/** The client side of an SSE response: headers once, writes that respect backpressure. */
export class ClientStream {
  private started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: string,
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
      "x-request-id": this.requestId,
    });
    this.res.flushHeaders();
  }

  get headersSent(): boolean {
    return this.started;
  }

  async write(text: string): Promise<void> {
    this.start();
    if (this.res.destroyed) return;
    if (!this.res.write(text)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off("drain", done);
          this.res.off("close", done);
          resolve();
        };
        this.res.once("drain", done);
        this.res.once("close", done);
      });
    }
  }

  writeData(payload: string): Promise<void> {
    return this.write(`data: ${payload}\n\n`);
  }

  /** Ends with the contract's error event and no [DONE]. */
  fail(err: GatewayError): void {
    this.start();
    if (!this.res.destroyed) this.res.end(sseErrorEvent(err));
  }

  end(): void {
    if (!this.res.destroyed) this.res.end();
  }
}
