import type { AppRouter } from "@osm/api/router";
import {
  type ApiClient,
  apiClient,
  startTestApi,
  testMasterKey,
  testSecret,
} from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import type { inferRouterInputs } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupToken } from "../src/auth/setup-token.ts";
import { type CallError, callError, password, rawRequest, tableCounts } from "./helpers.ts";

// Every input the API refuses is refused as BAD_REQUEST naming the wrong field, before anything
// is written: the row count of every table stays what it was.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let owner: ApiClient;
let P: string;
let keyId: string;
let baseline: Record<string, number>;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  const cookies = new Map<string, string>();
  owner = apiClient(api.url, { cookies });
  await owner.auth.signup.mutate({
    email: "owner@example.com",
    password,
    setupToken: setupToken(testSecret),
  });
  P = (await owner.projects.create.mutate({ name: "Inputs" })).id;
  await owner.providers.create.mutate({
    projectId: P,
    id: "prov",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-test",
  });
  await owner.models.create.mutate({
    projectId: P,
    id: "m1",
    providerId: "prov",
    upstreamModel: "gpt-4o-mini",
    inputUsdPer1M: "0.15",
    outputUsdPer1M: "0.6",
    tier: "paid",
  });
  keyId = (await owner.keys.create.mutate({ projectId: P, label: "k" })).key.id;
  baseline = await tableCounts(services.sql);
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

type Procedure = {
  query(input: unknown): Promise<unknown>;
  mutate(input: unknown): Promise<unknown>;
};

type Inputs = inferRouterInputs<AppRouter>;
type Path = { [N in keyof Inputs]: `${N & string}.${keyof Inputs[N] & string}` }[keyof Inputs];

const queries = new Set<Path>([
  "projects.list",
  "projects.get",
  "members.list",
  "members.invitations",
  "providers.list",
  "models.list",
  "keys.list",
  "keys.get",
  "usage.summary",
  "usage.timeseries",
  "logs.list",
  "policy.simulate",
  "policy.shadowReport",
  "tokens.list",
  "alerts.get",
  "alerts.deliveries",
  "audit.list",
]);

function call(path: Path, input: unknown): Promise<unknown> {
  const [namespace, name] = path.split(".") as [string, string];
  const proc = (owner as unknown as Record<string, Record<string, Procedure>>)[namespace]![name]!;
  return queries.has(path) ? proc.query(input) : proc.mutate(input);
}

/** The call is refused as BAD_REQUEST and nothing in the database changed. */
async function refused(path: Path, input: unknown): Promise<CallError> {
  const err = await callError(call(path, input));
  expect(err, `${path} ${JSON.stringify(input)}`).toMatchObject({
    code: "BAD_REQUEST",
    httpStatus: 400,
  });
  expect(await tableCounts(services.sql)).toEqual(baseline);
  return err;
}

const paths = (err: CallError) => (err.fields ?? []).map((f) => f.path).sort();

// --- Every procedure that takes input -------------------------------------------------------

const later = new Date(Date.now() + 7 * 24 * 3600_000);
const earlier = new Date(Date.now() - 24 * 3600_000);

/** A valid input for each procedure, and the fields that must be present. */
const valid: { path: Path; input: () => Record<string, unknown>; required: string[] }[] = [
  {
    path: "auth.signup",
    input: () => ({ email: "x@example.com", password, setupToken: "t" }),
    required: ["email", "password", "setupToken"],
  },
  {
    path: "auth.login",
    input: () => ({ email: "x@example.com", password }),
    required: ["email", "password"],
  },
  {
    path: "auth.changePassword",
    input: () => ({ currentPassword: password, newPassword: password }),
    required: ["currentPassword", "newPassword"],
  },
  {
    path: "auth.acceptInvite",
    input: () => ({ token: "t", password }),
    required: ["password", "token"],
  },
  { path: "projects.list", input: () => ({ cursor: "c", limit: 10 }), required: [] },
  { path: "projects.get", input: () => ({ id: P }), required: ["id"] },
  { path: "projects.create", input: () => ({ name: "n" }), required: ["name"] },
  { path: "projects.update", input: () => ({ id: P, name: "n" }), required: ["id", "name"] },
  { path: "projects.delete", input: () => ({ id: P }), required: ["id"] },
  { path: "members.list", input: () => ({ projectId: P, limit: 5 }), required: ["projectId"] },
  {
    path: "members.invite",
    input: () => ({ projectId: P, email: "i@example.com", role: "viewer" }),
    required: ["email", "projectId", "role"],
  },
  {
    path: "members.setRole",
    input: () => ({ projectId: P, userId: "user_x", role: "viewer" }),
    required: ["projectId", "role", "userId"],
  },
  {
    path: "members.remove",
    input: () => ({ projectId: P, userId: "user_x" }),
    required: ["projectId", "userId"],
  },
  { path: "providers.list", input: () => ({ projectId: P }), required: ["projectId"] },
  {
    path: "providers.create",
    input: () => ({
      projectId: P,
      id: "p2",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk",
    }),
    required: ["apiKey", "baseUrl", "id", "kind", "projectId"],
  },
  {
    path: "providers.update",
    input: () => ({ projectId: P, id: "prov", baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk" }),
    required: ["id", "projectId"],
  },
  {
    path: "providers.test",
    input: () => ({ projectId: P, id: "prov" }),
    required: ["id", "projectId"],
  },
  {
    path: "providers.delete",
    input: () => ({ projectId: P, id: "prov" }),
    required: ["id", "projectId"],
  },
  { path: "models.list", input: () => ({ projectId: P }), required: ["projectId"] },
  {
    path: "models.create",
    input: () => ({
      projectId: P,
      id: "m2",
      providerId: "prov",
      upstreamModel: "gpt-4o",
      inputUsdPer1M: "2.5",
      outputUsdPer1M: "10",
      tier: "paid",
      maxOutputTokens: 1000,
      tokenParam: "max_tokens",
      active: true,
    }),
    required: [
      "id",
      "inputUsdPer1M",
      "outputUsdPer1M",
      "projectId",
      "providerId",
      "tier",
      "upstreamModel",
    ],
  },
  {
    path: "models.update",
    input: () => ({
      projectId: P,
      id: "m1",
      providerId: "prov",
      upstreamModel: "gpt-4o",
      inputUsdPer1M: "2.5",
      outputUsdPer1M: "10",
      tier: "paid",
      maxOutputTokens: 1000,
      tokenParam: "max_completion_tokens",
      active: false,
    }),
    required: ["id", "projectId"],
  },
  {
    path: "models.delete",
    input: () => ({ projectId: P, id: "m1" }),
    required: ["id", "projectId"],
  },
  {
    path: "models.importDefaults",
    input: () => ({ projectId: P, providerId: "prov" }),
    required: ["projectId"],
  },
  {
    path: "keys.list",
    input: () => ({ projectId: P, status: "active", q: "k", limit: 10 }),
    required: ["projectId"],
  },
  { path: "keys.get", input: () => ({ id: keyId }), required: ["id"] },
  {
    path: "keys.create",
    input: () => ({
      projectId: P,
      label: "new",
      spendLimitUsd: "10",
      budgetPeriod: "monthly",
      policy: { mode: "enforce" },
      expiresAt: later,
    }),
    required: ["label", "projectId"],
  },
  {
    path: "keys.update",
    input: () => ({
      id: keyId,
      label: "renamed",
      spendLimitUsd: "20",
      budgetPeriod: "daily",
      policy: { tiers: ["paid"] },
      expiresAt: later,
    }),
    required: ["id"],
  },
  {
    path: "keys.setActive",
    input: () => ({ id: keyId, active: false }),
    required: ["active", "id"],
  },
  {
    path: "keys.rotate",
    input: () => ({ id: keyId, gracePeriodSeconds: 60, idempotencyKey: "r1-0123456789abcdef" }),
    required: ["gracePeriodSeconds", "id"],
  },
  { path: "keys.endGrace", input: () => ({ id: keyId }), required: ["id"] },
  { path: "keys.revoke", input: () => ({ id: keyId }), required: ["id"] },
  {
    path: "policy.simulate",
    input: () => ({ keyId, model: "gpt-4o-mini", inputTokens: 1, outputTokens: 1, maxTokens: 1 }),
    required: ["keyId", "model"],
  },
  { path: "policy.shadowReport", input: () => ({ keyId, hours: 24 }), required: ["keyId"] },
  { path: "keys.resetSpend", input: () => ({ id: keyId }), required: ["id"] },
  {
    path: "usage.summary",
    input: () => ({ projectId: P, from: earlier, to: later }),
    required: ["projectId"],
  },
  {
    path: "usage.timeseries",
    input: () => ({ projectId: P, keyId, bucket: "hour", from: earlier, to: later }),
    required: ["bucket", "projectId"],
  },
  {
    path: "logs.list",
    input: () => ({ projectId: P, keyId, outcome: "denied", code: "x", cursor: "c", limit: 5 }),
    required: ["projectId"],
  },
  { path: "tokens.list", input: () => ({ projectId: P }), required: ["projectId"] },
  {
    path: "tokens.create",
    input: () => ({ projectId: P, label: "t", role: "viewer", expiresAt: later }),
    required: ["label", "projectId", "role"],
  },
  { path: "tokens.revoke", input: () => ({ id: "token_x" }), required: ["id"] },
  {
    path: "members.invitations",
    input: () => ({ projectId: P, limit: 5 }),
    required: ["projectId"],
  },
  { path: "members.revokeInvitation", input: () => ({ id: "invite_x" }), required: ["id"] },
  { path: "alerts.get", input: () => ({ projectId: P }), required: ["projectId"] },
  {
    path: "alerts.set",
    input: () => ({ projectId: P, url: "http://127.0.0.1:9/h" }),
    required: ["projectId", "url"],
  },
  { path: "alerts.sendTest", input: () => ({ projectId: P }), required: ["projectId"] },
  { path: "alerts.deliveries", input: () => ({ projectId: P }), required: ["projectId"] },
  { path: "audit.list", input: () => ({ projectId: P }), required: ["projectId"] },
];

/** A value of the wrong JSON type for the field's valid value. */
function wrongType(value: unknown): unknown {
  if (typeof value === "string") return 42;
  if (typeof value === "number") return "42";
  if (typeof value === "boolean") return "true";
  if (value instanceof Date) return "2030-01-01T00:00:00.000Z";
  return "not an object";
}

describe.each(valid)("$path", ({ path, input, required }) => {
  it("refuses a wrong type in each field, naming that field", async () => {
    for (const field of Object.keys(input())) {
      const bad = { ...input(), [field]: wrongType(input()[field]) };
      const err = await refused(path, bad);
      expect(paths(err), `${path}.${field}`).toEqual([field]);
    }
  });

  it("refuses an unknown field, naming it", async () => {
    const err = await refused(path, { ...input(), bogus: 1 });
    expect(paths(err)).toEqual(["bogus"]);
    expect(err.fields![0]!.message).toContain("bogus");
  });

  it("names every missing required field", async () => {
    if (required.length === 0) {
      // Nothing required: an empty input is fine, and a non-object is still refused.
      const err = await refused(path, "not an object");
      expect(paths(err)).toEqual([""]);
      return;
    }
    const err = await refused(path, {});
    expect(paths(err)).toEqual(required);
  });

  it("refuses a non-object input", async () => {
    await refused(path, ["an", "array"]);
    await refused(path, 7);
  });
});

it("covers every procedure that takes input", async () => {
  const { appRouter } = await import("@osm/api/router");
  const procedures = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { inputs: unknown[] } }
  >;
  const withInput = Object.entries(procedures)
    .filter(([, p]) => p._def.inputs.length > 0)
    .map(([name]) => name)
    .sort();
  expect(valid.map((v) => v.path).sort()).toEqual(withInput);
});

// --- Money ----------------------------------------------------------------------------------

const unparseable: unknown[] = [
  "1e3",
  "12.",
  ".5",
  "1.0000000001",
  "abc",
  12.5,
  "",
  " 1",
  "1 ",
  "+1",
  "1,5",
  "0x10",
  "\uff11", // a full-width digit one
  "1".repeat(40),
  true,
];

describe("money", () => {
  it.each([...unparseable, "1000000.000000001", "1000001", "-1", "-0.5", "0", "0.000000000"])(
    "refuses spendLimitUsd %j on keys.create and keys.update",
    async (value) => {
      const created = await refused("keys.create", {
        projectId: P,
        label: "x",
        spendLimitUsd: value,
      });
      expect(paths(created)).toEqual(["spendLimitUsd"]);
      const updated = await refused("keys.update", { id: keyId, spendLimitUsd: value });
      expect(paths(updated)).toEqual(["spendLimitUsd"]);
    },
  );

  it("explains why a JSON number is refused", async () => {
    const err = await refused("keys.create", { projectId: P, label: "x", spendLimitUsd: 12.5 });
    expect(err.fields![0]!.message).toMatch(/not a JSON number/);
  });

  it("explains a $0 limit and the ceiling in dollars", async () => {
    const zero = await refused("keys.create", { projectId: P, label: "x", spendLimitUsd: "0" });
    expect(zero.fields![0]!.message).toMatch(/greater than 0/);
    const over = await refused("keys.create", {
      projectId: P,
      label: "x",
      spendLimitUsd: "1000000.000000001",
    });
    expect(over.fields![0]!.message).toBe("Must be at most 1000000 USD");
  });

  it.each([...unparseable, null, "10000.000000001", "10001", "-1"])(
    "refuses the price %j on models.create, models.update and policy price limits",
    async (value) => {
      for (const field of ["inputUsdPer1M", "outputUsdPer1M"]) {
        const created = await refused("models.create", {
          projectId: P,
          id: "m-new",
          providerId: "prov",
          upstreamModel: "x",
          inputUsdPer1M: "1",
          outputUsdPer1M: "1",
          tier: "paid",
          [field]: value,
        });
        expect(paths(created)).toEqual([field]);
        const updated = await refused("models.update", { projectId: P, id: "m1", [field]: value });
        expect(paths(updated)).toEqual([field]);
      }
      for (const field of ["maxInputUsdPer1M", "maxOutputUsdPer1M"]) {
        const err = await refused("keys.create", {
          projectId: P,
          label: "x",
          policy: { [field]: value },
        });
        expect(paths(err)).toEqual([`policy.${field}`]);
      }
    },
  );
});

// --- Policy ---------------------------------------------------------------------------------

describe("policy", () => {
  const cases: [string, unknown, string[]][] = [
    ["an unknown top-level policy field", { bogus: true }, ["policy.bogus"]],
    [
      "an unknown field in models",
      { models: { allow: ["gpt-4o"], foo: 1 } },
      ["policy.models.foo"],
    ],
    ["an unknown field in providers", { providers: { deny: ["x"] } }, ["policy.providers.deny"]],
    ["an unknown field in rateLimit", { rateLimit: { x: 1 } }, ["policy.rateLimit.x"]],
    ["two unknown fields", { models: { a: 1, b: 2 } }, ["policy.models.a", "policy.models.b"]],
    ["a mode that does not exist", { mode: "audit" }, ["policy.mode"]],
    ["an allow list that is a string", { models: { allow: "gpt-4o" } }, ["policy.models.allow"]],
    ["an empty allow list", { models: { allow: [] } }, ["policy.models.allow"]],
    [
      "a malformed model pattern",
      { models: { block: ["ok", "gpt 4"] } },
      ["policy.models.block.1"],
    ],
    ["a star in the middle", { models: { allow: ["gpt-*-mini"] } }, ["policy.models.allow.0"]],
    [
      "a provider id that is no slug",
      { providers: { allow: ["Open AI"] } },
      ["policy.providers.allow.0"],
    ],
    ["an unknown tier", { tiers: ["paid", "gold"] }, ["policy.tiers.1"]],
    ["an empty tier list", { tiers: [] }, ["policy.tiers"]],
    ["zero max tokens", { maxTokensPerRequest: 0 }, ["policy.maxTokensPerRequest"]],
    ["fractional max tokens", { maxTokensPerRequest: 1.5 }, ["policy.maxTokensPerRequest"]],
    [
      "max tokens above the cap",
      { maxTokensPerRequest: 10_000_001 },
      ["policy.maxTokensPerRequest"],
    ],
    ["max tokens as a string", { maxTokensPerRequest: "100" }, ["policy.maxTokensPerRequest"]],
    [
      "a zero rate limit",
      { rateLimit: { requestsPerMinute: 0 } },
      ["policy.rateLimit.requestsPerMinute"],
    ],
    [
      "a negative token rate",
      { rateLimit: { tokensPerMinute: -5 } },
      ["policy.rateLimit.tokensPerMinute"],
    ],
    ["a policy that is an array", [], ["policy"]],
    ["a policy that is null", null, ["policy"]],
  ];

  it.each(cases)("refuses %s on keys.create and keys.update", async (_name, policy, expected) => {
    const created = await refused("keys.create", { projectId: P, label: "x", policy });
    expect(paths(created)).toEqual(expected);
    const updated = await refused("keys.update", { id: keyId, policy });
    expect(paths(updated)).toEqual(expected);
  });
});

// --- Bounds and vocabularies ----------------------------------------------------------------

describe("bounds", () => {
  const cases: [Path, () => Record<string, unknown>, string][] = [
    ["keys.list", () => ({ projectId: P, limit: 0 }), "limit"],
    ["keys.list", () => ({ projectId: P, limit: 101 }), "limit"],
    ["keys.list", () => ({ projectId: P, limit: 2.5 }), "limit"],
    ["keys.list", () => ({ projectId: P, cursor: "c".repeat(129) }), "cursor"],
    ["keys.list", () => ({ projectId: P, status: "deleted" }), "status"],
    ["keys.list", () => ({ projectId: P, q: "q".repeat(201) }), "q"],
    ["audit.list", () => ({ projectId: P, limit: 1000 }), "limit"],
    ["projects.list", () => ({ limit: -1 }), "limit"],
    ["projects.get", () => ({ id: "" }), "id"],
    ["projects.get", () => ({ id: "x".repeat(65) }), "id"],
    ["projects.create", () => ({ name: "   " }), "name"],
    ["projects.create", () => ({ name: "n".repeat(101) }), "name"],
    ["keys.create", () => ({ projectId: P, label: "" }), "label"],
    ["keys.create", () => ({ projectId: P, label: "  \t " }), "label"],
    ["keys.create", () => ({ projectId: P, label: "l".repeat(201) }), "label"],
    ["keys.create", () => ({ projectId: P, label: "x", budgetPeriod: "yearly" }), "budgetPeriod"],
    ["keys.create", () => ({ projectId: P, label: "x", expiresAt: "tomorrow" }), "expiresAt"],
    ["keys.update", () => ({ id: keyId, enabled: false }), "enabled"],
    ["keys.update", () => ({ id: keyId, limitReached: false }), "limitReached"],
    [
      "keys.rotate",
      () => ({ id: keyId, gracePeriodSeconds: 30 * 24 * 3600 + 1 }),
      "gracePeriodSeconds",
    ],
    ["keys.rotate", () => ({ id: keyId, gracePeriodSeconds: -1 }), "gracePeriodSeconds"],
    ["keys.rotate", () => ({ id: keyId, gracePeriodSeconds: 1.5 }), "gracePeriodSeconds"],
    [
      "keys.rotate",
      () => ({ id: keyId, gracePeriodSeconds: 0, idempotencyKey: "" }),
      "idempotencyKey",
    ],
    [
      "keys.rotate",
      () => ({ id: keyId, gracePeriodSeconds: 0, idempotencyKey: "guessable-15chr" }),
      "idempotencyKey",
    ],
    ["keys.setActive", () => ({ id: keyId, active: "false" }), "active"],
    ["auth.signup", () => ({ email: "nope", password, setupToken: "t" }), "email"],
    [
      "auth.signup",
      () => ({ email: "a@example.com", password: "short", setupToken: "t" }),
      "password",
    ],
    [
      "auth.changePassword",
      () => ({ currentPassword: password, newPassword: "123456789" }),
      "newPassword",
    ],
    ["members.invite", () => ({ projectId: P, email: "a@example.com", role: "superuser" }), "role"],
    ["members.invite", () => ({ projectId: P, email: "not an email", role: "viewer" }), "email"],
    ["tokens.create", () => ({ projectId: P, label: "t", role: "owner" }), "role"],
    [
      "providers.create",
      () => ({ projectId: P, id: "p", kind: "azure", baseUrl: "http://127.0.0.1:9", apiKey: "k" }),
      "kind",
    ],
    [
      "providers.create",
      () => ({
        projectId: P,
        id: "Bad Id",
        kind: "openai",
        baseUrl: "http://127.0.0.1:9",
        apiKey: "k",
      }),
      "id",
    ],
    [
      "providers.create",
      () => ({ projectId: P, id: "p", kind: "openai", baseUrl: "http://127.0.0.1:9", apiKey: "" }),
      "apiKey",
    ],
    ["models.update", () => ({ projectId: P, id: "-bad" }), "id"],
    ["models.update", () => ({ projectId: P, id: "m1", tier: "gold" }), "tier"],
    ["models.update", () => ({ projectId: P, id: "m1", tokenParam: "max" }), "tokenParam"],
    ["models.update", () => ({ projectId: P, id: "m1", maxOutputTokens: 0 }), "maxOutputTokens"],
    ["models.update", () => ({ projectId: P, id: "m1", upstreamModel: " " }), "upstreamModel"],
    ["usage.timeseries", () => ({ projectId: P, bucket: "week" }), "bucket"],
    ["logs.list", () => ({ projectId: P, outcome: "maybe" }), "outcome"],
  ];

  it.each(cases)("%s refuses %s", async (path, input, field) => {
    expect(paths(await refused(path, input()))).toEqual([field]);
  });
});

// --- Refusals after validation --------------------------------------------------------------

describe("checks beyond the schema", () => {
  const cases: [Path, () => Record<string, unknown>, RegExp][] = [
    ["keys.create", () => ({ projectId: P, label: "x", expiresAt: earlier }), /expiresAt/],
    ["keys.update", () => ({ id: keyId, expiresAt: earlier }), /expiresAt/],
    [
      "tokens.create",
      () => ({ projectId: P, label: "t", role: "viewer", expiresAt: earlier }),
      /expiresAt/,
    ],
    ["usage.summary", () => ({ projectId: P, from: later, to: earlier }), /from/],
    [
      "usage.summary",
      () => ({ projectId: P, from: new Date(0), to: new Date(500 * 24 * 3600_000) }),
      /400 days/,
    ],
    [
      "providers.create",
      () => ({ projectId: P, id: "p", kind: "openai", baseUrl: "ftp://127.0.0.1/v1", apiKey: "k" }),
      /baseUrl/,
    ],
    [
      "providers.create",
      () => ({
        projectId: P,
        id: "p",
        kind: "openai",
        baseUrl: "http://u:pw@127.0.0.1/",
        apiKey: "k",
      }),
      /baseUrl/,
    ],
    ["providers.update", () => ({ projectId: P, id: "prov", baseUrl: "not a url" }), /baseUrl/],
    ["alerts.set", () => ({ projectId: P, url: "http://127.0.0.1:9/h?token=1" }), /url/],
    [
      "models.create",
      () => ({
        projectId: P,
        id: "m3",
        providerId: "nope",
        upstreamModel: "x",
        inputUsdPer1M: "1",
        outputUsdPer1M: "1",
        tier: "paid",
      }),
      /providerId/,
    ],
  ];

  it.each(cases)("%s refuses %s", async (path, input, message) => {
    const err = await refused(path, input());
    expect(err.message).toMatch(message);
  });
});

// --- Below the client: bodies and encodings a typed client would never send -----------------

describe("raw bodies", () => {
  /** A raw POST as the tRPC client would send it, with the master key. */
  const post = (path: string, body: string) =>
    rawRequest(api.url, {
      path: `/trpc/${path}`,
      headers: { "content-type": "application/json", authorization: `Bearer ${testMasterKey}` },
      body,
    });

  it("refuses a body that is not JSON", async () => {
    for (const body of ["{not json", "", '{"json":'] as const) {
      const res = await post("keys.create", body);
      expect(res.status, body).toBe(400);
      expect(await tableCounts(services.sql)).toEqual(baseline);
    }
  });

  it.each([
    [
      "an invalid Date",
      "keys.create",
      { projectId: "P", label: "x", expiresAt: "not a date" },
      { expiresAt: ["Date"] },
      "expiresAt",
    ],
    [
      "NaN",
      "keys.rotate",
      { id: "K", gracePeriodSeconds: "NaN" },
      { gracePeriodSeconds: ["number"] },
      "gracePeriodSeconds",
    ],
    [
      "Infinity",
      "keys.rotate",
      { id: "K", gracePeriodSeconds: "Infinity" },
      { gracePeriodSeconds: ["number"] },
      "gracePeriodSeconds",
    ],
    [
      "a bigint",
      "keys.rotate",
      { id: "K", gracePeriodSeconds: "60" },
      { gracePeriodSeconds: ["bigint"] },
      "gracePeriodSeconds",
    ],
  ])("refuses %s smuggled in through superjson", async (_name, path, json, meta, field) => {
    const fill = (o: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(o).map(([k, v]) => [k, v === "P" ? P : v === "K" ? keyId : v]),
      );
    const res = await post(path, JSON.stringify({ json: fill(json), meta: { values: meta } }));
    expect(res.status).toBe(400);
    const body = res.json as {
      error: { json: { data: { code: string; fields: { path: string }[] } } };
    };
    expect(body.error.json.data.code).toBe("BAD_REQUEST");
    expect(body.error.json.data.fields.map((f) => f.path)).toEqual([field]);
    expect(await tableCounts(services.sql)).toEqual(baseline);
  });
});

describe("private upstreams, when they are not allowed", () => {
  let strict: Awaited<ReturnType<typeof startTestApi>>;
  let strictClient: ApiClient;
  beforeAll(async () => {
    strict = await startTestApi(services, { allowPrivateUpstreams: false });
    strictClient = apiClient(strict.url, { bearer: testMasterKey });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it.each([
    "http://127.0.0.1:9/v1",
    "http://localhost:9/v1",
    "http://10.1.2.3/v1",
    "http://192.168.0.10/v1",
    "http://169.254.169.254/latest",
    "http://[::1]:9/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://0.0.0.0:9/v1",
  ])("refuses %s for providers and webhooks", async (url) => {
    const provider = await callError(
      strictClient.providers.create.mutate({
        projectId: P,
        id: "private",
        kind: "openai",
        baseUrl: url,
        apiKey: "sk",
      }),
    );
    expect(provider).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/^baseUrl /),
    });
    const updated = await callError(
      strictClient.providers.update.mutate({ projectId: P, id: "prov", baseUrl: url }),
    );
    expect(updated.code).toBe("BAD_REQUEST");
    const webhook = await callError(strictClient.alerts.set.mutate({ projectId: P, url }));
    expect(webhook).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^url /) });
    expect(await tableCounts(services.sql)).toEqual(baseline);
  });
});
