import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type RedisOptions = {
  port: number;
  /** Directory for the append-only file; omitted for throwaway test servers. */
  dataDir?: string;
  /**
   * Run redis-server in its own process group, so a terminal Ctrl-C reaches only the
   * supervisor, which stops Redis after the apps that use it.
   */
  ownProcessGroup?: boolean;
  /** Runs the server as a Redis Cluster node that keeps its node table in this file. */
  clusterConfigFile?: string;
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

function isRedisProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // Where /proc exists, make sure a recycled pid is not some other program.
  const comm = `/proc/${pid}/comm`;
  return !existsSync(comm) || readFileSync(comm, "utf8").startsWith("redis-server");
}

// A supervisor killed with SIGKILL leaves its redis-server running on the data directory.
async function stopStaleServer(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isRedisProcess(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 400 && isRedisProcess(pid); i++) await sleep(25);
  if (isRedisProcess(pid)) process.kill(pid, "SIGKILL");
}

/** Starts redis-server as a child process and waits until it answers PING. */
export async function startRedis(options: RedisOptions): Promise<RunningRedis> {
  const pidFile = options.dataDir ? join(options.dataDir, "redis.pid") : undefined;
  if (pidFile) await stopStaleServer(pidFile);
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
    ...(pidFile ? ["--pidfile", pidFile] : []),
    ...(options.clusterConfigFile
      ? ["--cluster-enabled", "yes", "--cluster-config-file", options.clusterConfigFile]
      : []),
  ];
  const child: ChildProcess = spawn("redis-server", args, {
    stdio: ["ignore", "ignore", "inherit"],
    detached: options.ownProcessGroup ?? false,
  });
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

export type RunningRedisCluster = {
  /** `host:port,…` of every master, as OSM_REDIS_CLUSTER takes it. */
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
};

function redisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(" ")}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Starts one master per port (no replicas, nothing persisted), joins them into a Redis Cluster
 * that covers all 16384 slots, and waits until every node reports cluster_state:ok.
 */
export async function startRedisCluster(options: {
  ports: number[];
  /** Holds the nodes' cluster config files. */
  dir: string;
}): Promise<RunningRedisCluster> {
  const servers: RunningRedis[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (const port of options.ports) {
      servers.push(
        await startRedis({ port, clusterConfigFile: join(options.dir, `nodes-${port}.conf`) }),
      );
    }
    const addresses = options.ports.map((port) => `127.0.0.1:${port}`);
    await redisCli([
      "--cluster",
      "create",
      ...addresses,
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    for (let i = 0; ; i++) {
      const states = await Promise.all(
        options.ports.map((port) => redisCli(["-p", String(port), "cluster", "info"])),
      );
      if (states.every((info) => info.includes("cluster_state:ok"))) break;
      if (i === 400) throw new Error("the Redis Cluster did not reach cluster_state:ok");
      await sleep(25);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: options.ports.map((port) => ({ host: "127.0.0.1", port })), stop };
}
