// The values global-setup.ts provides, declared where createTestServices() reads them: a package
// that type-checks its tests sees only context.ts, never the global setup file.
import type { RedisTarget } from "@osm/redis/target";
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
    /** One server (the integration project) or a 3-master cluster (the cluster project). */
    redis: RedisTarget;
  }
}
