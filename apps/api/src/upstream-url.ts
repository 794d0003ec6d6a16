import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { isPrivateAddress } from "@osm/net/addresses";

export type UpstreamCheck = { ok: true; url: string } | { ok: false; reason: string };

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true })).map((a) => a.address);

/**
 * The address rule for provider base URLs and webhooks: http(s) only, no credentials in the URL,
 * and (unless private upstreams are allowed) every address the host resolves to must be public.
 * The proxy checks again at connect time, since DNS answers can change after this check.
 */
export async function checkUpstreamUrl(
  raw: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<UpstreamCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return { ok: false, reason: "must use http or https" };
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials" };
  if (url.search || url.hash) return { ok: false, reason: "must not contain a query or fragment" };
  const normalized = url.toString().replace(/\/+$/, "");
  if (allowPrivate) return { ok: true, url: normalized };
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch {
    return { ok: false, reason: `host ${host} does not resolve` };
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    return {
      ok: false,
      reason:
        "points to a loopback or private address (set OSM_ALLOW_PRIVATE_UPSTREAMS=true to allow)",
    };
  }
  return { ok: true, url: normalized };
}
