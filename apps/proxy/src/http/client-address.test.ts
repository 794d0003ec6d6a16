import { describe, expect, it } from "vitest";
import { clientAddressResolver, parseTrustedProxies, throttleBucket } from "./client-address.ts";

describe("parseTrustedProxies", () => {
  it("reads IPv4 and IPv6 CIDRs and bare addresses", () => {
    expect(parseTrustedProxies(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1")).toEqual({
      ok: true,
      cidrs: ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "::1/128"],
    });
    expect(parseTrustedProxies("")).toEqual({ ok: true, cidrs: [] });
  });

  it.each(["10.0.0.0/33", "fd00::/129", "10.0.0/8", "example.com", "10.0.0.0/8/1", "10.0.0.0/x"])(
    "refuses %s, naming it",
    (entry) => {
      const parsed = parseTrustedProxies(`10.0.0.0/8,${entry}`);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.message).toContain(`"${entry}"`);
    },
  );
});

describe("clientAddressResolver", () => {
  const resolve = clientAddressResolver(["10.0.0.0/8", "fd00::/8"]);

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", () => {
    expect(resolve("203.0.113.9", "198.51.100.1")).toBe("203.0.113.9");
    expect(clientAddressResolver([])("127.0.0.1", "198.51.100.1")).toBe("127.0.0.1");
  });

  it("takes the right-most untrusted hop from a trusted peer", () => {
    expect(resolve("10.1.1.1", "198.51.100.1")).toBe("198.51.100.1");
    // The left part is the client's to forge; our own balancers are skipped from the right.
    expect(resolve("10.1.1.1", "6.6.6.6, 198.51.100.1, 10.2.2.2")).toBe("198.51.100.1");
    expect(resolve("fd00::5", ["6.6.6.6", "2001:db8::1, fd00::7"])).toBe("2001:db8::1");
  });

  it("falls back sensibly when the header says nothing usable", () => {
    expect(resolve("10.1.1.1", undefined)).toBe("10.1.1.1");
    expect(resolve("10.1.1.1", "garbage, ,")).toBe("10.1.1.1");
    expect(resolve("10.1.1.1", "10.9.9.9, 10.8.8.8")).toBe("10.9.9.9");
  });

  it("treats an IPv4-mapped peer as its IPv4 address", () => {
    expect(resolve("::ffff:10.1.1.1", "198.51.100.1")).toBe("198.51.100.1");
    expect(resolve("::ffff:203.0.113.9", "198.51.100.1")).toBe("203.0.113.9");
  });
});

describe("throttleBucket", () => {
  it("keeps IPv4 addresses apart", () => {
    expect(throttleBucket("198.51.100.1")).toBe("198.51.100.1");
    expect(throttleBucket("198.51.100.2")).not.toBe(throttleBucket("198.51.100.1"));
  });

  it("counts IPv6 by /64, whatever the spelling", () => {
    const a = throttleBucket("2001:db8:1:2::1");
    expect(a).toBe("2001:db8:1:2::/64");
    expect(throttleBucket("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe(a);
    expect(throttleBucket("2001:db8:1:2:abcd::9%eth0")).toBe(a);
    expect(throttleBucket("2001:db8:1:3::1")).not.toBe(a);
    expect(throttleBucket("::1")).toBe("0:0:0:0::/64");
  });
});
