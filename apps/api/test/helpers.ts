import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { insertSession, insertUser } from "@osm/db/queries/auth";
import { upsertMembership } from "@osm/db/queries/members";
import type { Role } from "@osm/db/schema";
import { hashPassword } from "@osm/keys/passwords";
import { hashSecret } from "@osm/keys/secrets";
import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import superjson from "superjson";
import { afterAll, beforeAll } from "vitest";
import { sessionCookie } from "../src/actor.ts";

/** What a refused call told the client: the tRPC code, HTTP status, message and wrong fields. */
export type CallError = {
  code: string;
  httpStatus: number;
  message: string;
  fields: { path: string; message: string }[] | null;
};

type ClientErrorData = {
  code?: string;
  httpStatus?: number;
  fields?: { path: string; message: string }[] | null;
};

/** Turns a TRPCClientError into a plain CallError; anything else (a network error) is rethrown. */
export function toCallError(err: unknown): CallError {
  if (!(err instanceof Error) || err.name !== "TRPCClientError") throw err;
  const data = (err as Error & { data?: ClientErrorData | null }).data;
  if (!data?.code) throw err;
  return {
    code: data.code,
    httpStatus: data.httpStatus ?? 0,
    message: err.message,
    fields: data.fields ?? null,
  };
}

/** Awaits a call that must be refused and returns how it was refused. */
export async function callError(call: Promise<unknown>): Promise<CallError> {
  try {
    await call;
  } catch (err) {
    return toCallError(err);
  }
  throw new Error("expected the call to be refused, but it succeeded");
}

export type Outcome<T = unknown> = { ok: true; value: T } | { ok: false; error: CallError };

export async function outcome<T>(call: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call };
  } catch (err) {
    return { ok: false, error: toCallError(err) };
  }
}

/** Row counts of every table of the test database. */
export async function tableCounts(sql: TestServices["sql"]): Promise<Record<string, number>> {
  const tables = await sql<{ name: string }[]>`
    select tablename as name from pg_tables where schemaname = 'public' order by tablename`;
  const rows = await sql.unsafe<{ name: string; n: number }[]>(
    tables
      .map((t) => `select '${t.name}' as name, count(*)::int as n from "${t.name}"`)
      .join(" union all "),
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.n]));
}

export const password = "correct horse battery staple";

/** A person with a real scrypt hash, so that auth.login works for them. */
export async function createUser(services: TestServices, email: string, pw = password) {
  return insertUser(services.db, email, await hashPassword(pw));
}

/** A person who never logs in (no scrypt cost): for targets of setRole/remove. */
export async function createBareUser(services: TestServices, email: string) {
  return insertUser(services.db, email, "scrypt$not-a-real-hash");
}

export async function addMember(
  services: TestServices,
  projectId: string,
  userId: string,
  role: Role,
) {
  return upsertMembership(services.db, projectId, userId, role);
}

/** Signs in through auth.login and returns a client carrying the session cookie. */
export async function login(url: string, email: string, pw = password) {
  const cookies = new Map<string, string>();
  await apiClient(url, { cookies }).auth.login.mutate({ email, password: pw });
  if (!cookies.get(sessionCookie)) throw new Error(`login of ${email} set no session cookie`);
  return { client: apiClient(url, { cookies }), cookies };
}

/** A second session for a person, made directly in the database (no scrypt cost). */
export async function directSession(services: TestServices, userId: string) {
  const token = randomBytes(32).toString("base64url");
  await insertSession(services.db, userId, hashSecret(token), new Date(Date.now() + 3600_000));
  return token;
}

export function cookieClient(url: string, token: string): ApiClient {
  return apiClient(url, { cookies: new Map([[sessionCookie, token]]) });
}

export type RawResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The parsed JSON body, or undefined when it is not JSON. */
  json: unknown;
};

/**
 * A raw HTTP request over node:http, which (unlike fetch) can pick the local address the
 * connection comes from: the API reads the client address from the socket.
 */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
  },
): Promise<RawResponse> {
  const target = new URL(options.path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: options.method ?? "POST",
        headers: options.headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A tRPC mutation as the client sends it: POST /trpc/<path> with a superjson body. */
export function rawMutation(
  url: string,
  path: string,
  input: unknown,
  options: { headers?: Record<string, string>; localAddress?: string } = {},
) {
  return rawRequest(url, {
    path: `/trpc/${path}`,
    headers: { "content-type": "application/json", ...options.headers },
    body: JSON.stringify(superjson.serialize(input)),
    localAddress: options.localAddress,
  });
}

/** The tRPC error inside a raw response body, or null for a success. */
export function rawError(res: RawResponse): { code: string; message: string } | null {
  const body = res.json as
    | { error?: { json?: { message: string; data: { code: string } } } }
    | undefined;
  const err = body?.error?.json;
  return err ? { code: err.data.code, message: err.message } : null;
}

/** JSON.stringify that also renders bigint values (money columns arrive as bigint). */
export function stringify(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

let counter = 0;
/** A unique suffix for slugs, emails and labels within one test file. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString("hex")}`;
}

export type ApiFixture = {
  services: TestServices;
  api: Awaited<ReturnType<typeof startTestApi>>;
  /** A client signed in with the master key. */
  master: ApiClient;
  /** The file's project (with `project`), else "". */
  projectId: string;
};

/**
 * One API for the test file: started before its tests, stopped after them. With `project` the
 * master key creates that project; with `provider` also an OpenAI provider "prov" in it whose
 * upstream never answers (port 9).
 */
export function useTestApi(options: { project?: string; provider?: boolean } = {}): ApiFixture {
  const fixture = { projectId: "" } as ApiFixture;
  beforeAll(async () => {
    fixture.services = await createTestServices();
    fixture.api = await startTestApi(fixture.services);
    fixture.master = apiClient(fixture.api.url, { bearer: testMasterKey });
    if (!options.project) return;
    fixture.projectId = (await fixture.master.projects.create.mutate({ name: options.project })).id;
    if (options.provider)
      await fixture.master.providers.create.mutate({
        projectId: fixture.projectId,
        id: "prov",
        kind: "openai",
        baseUrl: "http://127.0.0.1:9/v1",
        apiKey: "sk-test",
      });
  });
  afterAll(async () => {
    await fixture.api?.close();
    await fixture.services?.close();
  });
  return fixture;
}
