import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // "localhost" tries IPv4 and IPv6, whichever the app bound.
    const socket = createConnection({ port, host: "localhost" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves true once the port accepts a TCP connection, false if the signal aborts first. */
export async function waitForPort(port: number, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    if (await accepts(port)) return true;
    await sleep(100);
  }
  return false;
}
