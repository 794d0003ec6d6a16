// The values global-setup.ts provides, declared where createTestServices() reads them: a package
// that type-checks its tests sees only context.ts, never the global setup file.
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
    redisUrl: string;
  }
}
