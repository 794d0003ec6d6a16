/** What the API runs with; `env.ts` builds it from the environment, tests build it directly. */
export type ApiConfig = {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  secret: string;
  masterKey?: string;
  admin?: { email: string; password: string };
  allowPrivateUpstreams: boolean;
  /** Origins allowed to send mutations besides the API's own. */
  dashboardOrigins: string[];
  dataDir: string;
  dashboardDir?: string;
  port: number;
  development: boolean;
  logLevel: string;
};
