import { createServer } from "node:net";

/** A port the OS considers free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A free port whose partner `port + offset` is free too (a Redis Cluster node's bus port is its
 * port + 10000). Picked below the OS's ephemeral range so that the partner exists and is not
 * handed out to some outgoing connection meanwhile.
 */
export async function freePortWithPartner(offset: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if ((await canBind(port)) && (await canBind(port + offset))) return port;
  }
  throw new Error(`no free port with a free partner at +${offset}`);
}
