// Service starters for tests that need a server of their own (a Redis to stop and restart).
export { freePort } from "@osm/services/ports";
export { type RunningRedis, startRedis } from "@osm/services/redis";
export { startWorker } from "@osm/worker/worker";
