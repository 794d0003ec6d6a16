import { type ChildProcess, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export type RedisOptions = {
  port: number;
  /** Directory for the append-only file; omitted for throwaway test servers. */
  dataDir?: string;
};

export type RunningRedis = {
  url: string;
  port: number;
  stop(): Promise<void>;
};

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts redis-server as a child process and waits until it answers PING. */
export async function startRedis(options: RedisOptions): Promise<RunningRedis> {
  const args = [
    "--port",
    String(options.port),
    "--bind",
    "127.0.0.1",
    // BullMQ needs every key kept: evicting a job or a counter would lose usage.
    "--maxmemory-policy",
    "noeviction",
    "--save",
    "",
    ...(options.dataDir
      ? ["--dir", options.dataDir, "--appendonly", "yes", "--appendfsync", "everysec"]
      : ["--appendonly", "no"]),
  ];
  const child: ChildProcess = spawn("redis-server", args, { stdio: ["ignore", "ignore", "inherit"] });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  for (let i = 0; i < 200; i++) {
    if (exited) throw new Error(`redis-server exited at start (port ${options.port})`);
    if (await ping(options.port)) {
      return {
        url: `redis://127.0.0.1:${options.port}`,
        port: options.port,
        stop: () =>
          new Promise((resolve) => {
            if (exited) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      };
    }
    await sleep(25);
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not answer on port ${options.port}`);
}
