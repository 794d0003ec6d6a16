// The upstream address rule (contract, "Providers and models"): with OSM_ALLOW_PRIVATE_UPSTREAMS
// off, the proxy never opens a connection to a loopback or private address, whatever a provider's
// host resolves to at request time (DNS may change after the API checked it at registration).
import type { LookupAddress } from "node:dns";
import { createServer, type Server } from "node:net";
import { guardedLookup, type LookupFn } from "@osm/net/addresses";
import { type RunningProxy, startProxy } from "@osm/proxy/server";
import { type GatewayStack, startGatewayStack, testProxyConfig } from "@osm/testing/gateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type Answer = (hostname: string) => LookupAddress[];
const v4 = (address: string): LookupAddress => ({ address, family: 4 });
const v6 = (address: string): LookupAddress => ({ address, family: 6 });

/** A resolver answering from `answer`, recording each question; the shape dns.lookup has. */
function spyResolver(answer: Answer) {
  const asked: { hostname: string; options: unknown }[] = [];
  const lookup = ((hostname: string, options: unknown, callback: unknown) => {
    asked.push({ hostname, options });
    const cb = (typeof options === "function" ? options : callback) as (
      err: NodeJS.ErrnoException | null,
      addresses: LookupAddress[],
    ) => void;
    if (hostname.startsWith("nxdomain.")) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: "ENOTFOUND",
      });
      return process.nextTick(() => cb(err, []));
    }
    const list = answer(hostname);
    process.nextTick(() => cb(null, list));
  }) as unknown as LookupFn;
  return { lookup, asked };
}

/** Calls a LookupFn the way net.connect does and returns what it called back with. */
function resolveWith(lookup: LookupFn, hostname: string, all: boolean) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>(
    (resolve) => {
      (lookup as unknown as (h: string, o: object, cb: (...a: unknown[]) => void) => void)(
        hostname,
        { all },
        (err, address, family) =>
          resolve({
            err: err as NodeJS.ErrnoException | null,
            address,
            family: family as number | undefined,
          }),
      );
    },
  );
}

describe("guardedLookup (unit)", () => {
  const privateAnswers = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254", // cloud metadata
    "100.64.0.1", // CGNAT
    "0.0.0.0",
    "224.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1", // NAT64 of 10.0.0.1
    "ff02::1",
  ];

  for (const address of privateAnswers) {
    it(`refuses a host resolving to ${address}`, async () => {
      const spy = spyResolver(() => [address.includes(":") ? v6(address) : v4(address)]);
      for (const all of [false, true]) {
        const { err, address: got } = await resolveWith(
          guardedLookup(false, spy.lookup),
          "evil.test",
          all,
        );
        expect(err?.code).toBe("EPRIVATEUPSTREAM");
        expect(err?.message).toMatch(/evil\.test.*private/);
        expect(got === undefined || (Array.isArray(got) && got.length === 0)).toBe(true);
      }
    });
  }

  it("asks for every address and refuses if any one is private (no first-answer bypass)", async () => {
    const spy = spyResolver(() => [v4("93.184.216.34"), v4("10.0.0.5")]);
    const { err } = await resolveWith(guardedLookup(false, spy.lookup), "mixed.test", false);
    expect(err?.code).toBe("EPRIVATEUPSTREAM");
    expect(spy.asked).toEqual([{ hostname: "mixed.test", options: { all: true } }]);
  });

  it("refuses an empty answer", async () => {
    const spy = spyResolver(() => []);
    const { err } = await resolveWith(guardedLookup(false, spy.lookup), "empty.test", true);
    expect(err?.code).toBe("EPRIVATEUPSTREAM");
  });

  it("passes public answers through in both callback shapes", async () => {
    const spy = spyResolver(() => [v4("93.184.216.34"), v6("2606:2800:220:1::1")]);
    const guarded = guardedLookup(false, spy.lookup);
    expect(await resolveWith(guarded, "public.test", false)).toEqual({
      err: null,
      address: "93.184.216.34",
      family: 4,
    });
    const all = await resolveWith(guarded, "public.test", true);
    expect(all.err).toBeNull();
    expect(all.address).toEqual([v4("93.184.216.34"), v6("2606:2800:220:1::1")]);
    // lookup(hostname, callback) without options, as some callers use it.
    const bare = await new Promise<unknown[]>((resolve) =>
      (guarded as unknown as (h: string, cb: (...a: unknown[]) => void) => void)(
        "public.test",
        (...args) => resolve(args),
      ),
    );
    expect(bare).toEqual([null, "93.184.216.34", 4]);
  });

  it("passes resolver errors through", async () => {
    const spy = spyResolver(() => []);
    const { err } = await resolveWith(guardedLookup(false, spy.lookup), "nxdomain.test", false);
    expect(err?.code).toBe("ENOTFOUND");
  });

  it("allows private answers when private upstreams are allowed", async () => {
    const spy = spyResolver(() => [v4("127.0.0.1")]);
    expect(await resolveWith(guardedLookup(true, spy.lookup), "local.test", false)).toEqual({
      err: null,
      address: "127.0.0.1",
      family: 4,
    });
  });
});

describe("a strict proxy (allowPrivateUpstreams false) with a spy resolver", () => {
  let stack: GatewayStack;
  let strict: RunningProxy;
  let permissive: RunningProxy;
  let projectId: string;
  let secret: string;
  const spyServers: Server[] = [];
  const connections: string[] = [];
  let spyPort = 0;
  let ipv6Spy = false;

  const answers: Record<string, LookupAddress[]> = {
    "loopback.test": [v4("127.0.0.1")],
    "loopback-range.test": [v4("127.1.2.3")],
    "unspecified.test": [v4("0.0.0.0")],
    "mapped.test": [v6("::ffff:127.0.0.1")],
    "v6-loopback.test": [v6("::1")],
    "private.test": [v4("10.0.0.5")],
    "metadata.test": [v4("169.254.169.254")],
    "cgnat.test": [v4("100.64.0.1")],
    "ula.test": [v6("fd00::1")],
    // Round-robin DNS with one private answer among public ones.
    "mixed.test": [v4("203.0.113.10"), v4("127.0.0.1")],
    "empty.test": [],
  };
  const resolver = spyResolver((hostname) => answers[hostname] ?? [v4("127.0.0.1")]);

  beforeAll(async () => {
    stack = await startGatewayStack();
    ({ projectId, secret } = await stack.tenant());
    // Records every connection that reaches a loopback address on the spy port, then drops it.
    const spy = createServer((socket) => {
      connections.push(`${socket.remoteAddress} -> ${socket.localAddress}`);
      socket.destroy();
    });
    await new Promise<void>((resolve) => spy.listen(0, "127.0.0.1", resolve));
    spyServers.push(spy);
    spyPort = (spy.address() as { port: number }).port;
    // The same port on ::1 when the host has IPv6, so an answer of ::1 would be seen too.
    const spy6 = createServer((socket) => {
      connections.push(`${socket.remoteAddress} -> ${socket.localAddress}`);
      socket.destroy();
    });
    ipv6Spy = await new Promise<boolean>((resolve) => {
      spy6.once("error", () => resolve(false));
      spy6.listen(spyPort, "::1", () => resolve(true));
    });
    if (ipv6Spy) spyServers.push(spy6);

    strict = await startProxy(testProxyConfig(stack.services, { allowPrivateUpstreams: false }), {
      lookup: resolver.lookup,
    });
    // The control: the same resolver with private upstreams allowed does reach the spy.
    permissive = await startProxy(
      testProxyConfig(stack.services, { allowPrivateUpstreams: true }),
      { lookup: resolver.lookup },
    );
    // The API runs with private upstreams allowed (it would refuse these hosts otherwise: it
    // resolves them at registration), which is exactly the case the proxy must still guard.
    for (const host of Object.keys(answers)) {
      const slug = host.replace(".test", "");
      for (const kind of ["openai", "anthropic"] as const) {
        await stack.master.providers.create.mutate({
          projectId,
          id: `${slug}-${kind}`,
          kind,
          baseUrl: kind === "openai" ? `http://${host}:${spyPort}/v1` : `http://${host}:${spyPort}`,
          apiKey: "sk-upstream-secret-123",
        });
        await stack.master.models.create.mutate({
          projectId,
          id: `${slug}-${kind}-model`,
          providerId: `${slug}-${kind}`,
          upstreamModel: "gpt-4o-mini",
          inputUsdPer1M: "0.15",
          outputUsdPer1M: "0.6",
          tier: "paid",
        });
      }
    }
  });
  afterAll(async () => {
    await strict?.close();
    await permissive?.close();
    for (const server of spyServers) await new Promise((r) => server.close(r));
    await stack?.close();
  });

  async function call(
    proxy: RunningProxy,
    path: "/v1/chat/completions" | "/v1/embeddings",
    body: Record<string, unknown>,
  ) {
    const res = await fetch(`${proxy.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      requestId: res.headers.get("x-request-id"),
      body: (await res.json()) as { error: { code: string; type: string; message: string } },
    };
  }

  const chatBody = (model: string, stream = false) => ({
    model,
    messages: [{ role: "user", content: "hi" }],
    stream,
  });

  it("the control: with private upstreams allowed, the spy server sees each connection", async () => {
    // 127.1.2.3 is loopback too, but the spy listens on 127.0.0.1 only: not in this list.
    const reachable = ["loopback", "unspecified", "mapped", "v6-loopback"];
    try {
      for (const slug of reachable) {
        if (slug === "v6-loopback" && !ipv6Spy) continue;
        const before = connections.length;
        const reply = await call(
          permissive,
          "/v1/chat/completions",
          chatBody(`${slug}-openai-model`),
        );
        // The spy drops the connection: an upstream_error, but the connection was made.
        expect(reply.status).toBe(502);
        expect(connections.length, slug).toBeGreaterThan(before);
      }
    } finally {
      connections.length = 0;
    }
  });

  for (const host of [
    "loopback.test",
    "loopback-range.test",
    "unspecified.test",
    "mapped.test",
    "v6-loopback.test",
    "private.test",
    "metadata.test",
    "cgnat.test",
    "ula.test",
    "mixed.test",
    "empty.test",
  ]) {
    it(`refuses ${host} (${answers[host]!.map((a) => a.address).join(", ") || "no address"}) without connecting`, async () => {
      const slug = host.replace(".test", "");
      const asked = resolver.asked.length;
      for (const [path, body] of [
        ["/v1/chat/completions", chatBody(`${slug}-openai-model`)],
        ["/v1/chat/completions", chatBody(`${slug}-openai-model`, true)],
        ["/v1/chat/completions", chatBody(`${slug}-anthropic-model`)],
        ["/v1/embeddings", { model: `${slug}-openai-model`, input: "x" }],
      ] as const) {
        const reply = await call(strict, path, body);
        expect(reply.status, `${path} ${JSON.stringify(reply.body)}`).toBe(502);
        expect(reply.type).toMatch(/^application\/json/);
        expect(reply.requestId).toMatch(/^req_/);
        expect(reply.body.error.code).toBe("upstream_error");
        expect(reply.body.error.type).toBe("upstream_error");
        expect(reply.body.error.message).toMatch(/private/);
        expect(JSON.stringify(reply.body)).not.toContain("sk-upstream");
      }
      // The guard was consulted for this host, and nothing reached the spy server.
      expect(resolver.asked.slice(asked).map((q) => q.hostname)).toContain(host);
      expect(connections).toEqual([]);
    });
  }

  it("never connected anywhere on the spy port (IPv6 spy listening too, where available)", () => {
    console.info(`ssrf: spy on 127.0.0.1${ipv6Spy ? " and ::1" : ""}:${spyPort}`);
    expect(connections).toEqual([]);
  });
});
