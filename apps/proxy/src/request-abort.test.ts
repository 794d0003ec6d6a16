import { describe, expect, it } from "vitest";
import { RequestAbort } from "./request-abort.ts";

describe("RequestAbort", () => {
  it("runs each listener once, with the first reason, and not those removed or added late", () => {
    const abort = new RequestAbort();
    const calls: string[] = [];
    const kept = () => calls.push(`kept:${String(abort.reason)}`);
    const removed = () => calls.push("removed");
    abort.signal.addEventListener("abort", kept, { once: true });
    abort.signal.addEventListener("abort", removed);
    abort.signal.removeEventListener("abort", removed);
    expect(abort.signal.aborted).toBe(false);
    abort.abort("client gone");
    abort.abort("key revoked");
    abort.signal.addEventListener("abort", () => calls.push("late"));
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe("client gone");
    expect(calls).toEqual(["kept:client gone"]);
  });

  it("runs the other listeners when one throws, and reports the error as EventTarget does", async () => {
    const abort = new RequestAbort();
    // vitest's own handler would fail the run on the reported error: set aside for this test.
    const vitestHandlers = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException");
    try {
      const reported = new Promise<unknown>((resolve) =>
        process.once("uncaughtException", resolve),
      );
      let ran = false;
      abort.signal.addEventListener("abort", () => {
        throw new Error("listener failed");
      });
      abort.signal.addEventListener("abort", () => {
        ran = true;
      });
      expect(() => abort.abort("done")).not.toThrow();
      expect(ran).toBe(true);
      expect(((await reported) as Error).message).toBe("listener failed");
    } finally {
      process.removeAllListeners("uncaughtException");
      for (const handler of vitestHandlers) process.on("uncaughtException", handler);
    }
  });
});
