// Service starters for tests that need a server of their own (a Redis or a PostgreSQL to stop
// and restart).
export { freePort } from "@osm/services/ports";
export { type RunningPostgres, startPostgres } from "@osm/services/postgres";
export { type RunningRedis, startRedis } from "@osm/services/redis";
export { startWorker } from "@osm/worker/worker";
