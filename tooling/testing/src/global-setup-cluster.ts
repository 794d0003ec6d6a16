import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePortWithPartner } from "@osm/services/ports";
import { startRedisCluster } from "@osm/services/redis";
import type { TestProject } from "vitest/node";
import { startTestPostgres } from "./global-setup.ts";
import "./provided-context.ts";

/**
 * PostgreSQL as for the integration project, and a real 3-master Redis Cluster instead of one
 * Redis: the same test files then prove every script and multi-key command stays in one slot
 * (a cluster answers anything else with CROSSSLOT).
 */
export default async function setup(project: TestProject) {
  const pg = await startTestPostgres(project);
  const dir = join(pg.dataDir, "redis-cluster");
  mkdirSync(dir, { recursive: true });
  // Each node also listens on its cluster bus, port + 10000.
  const ports: number[] = [];
  while (ports.length < 3) {
    const port = await freePortWithPartner(10_000);
    if (!ports.includes(port)) ports.push(port);
  }
  const cluster = await startRedisCluster({ ports, dir }).catch((err) => {
    pg.stop();
    throw err;
  });
  project.provide("redis", { mode: "cluster", nodes: cluster.nodes });
  return async () => {
    await cluster.stop();
    pg.stop();
  };
}
