import type { DemoSeed } from "./seed-demo.ts";

export type Urls = { dashboard: string; gateway: string };

export function urlLines(urls: Urls): string {
  return [`osm: dashboard  ${urls.dashboard}`, `osm: gateway    ${urls.gateway}`, ""].join("\n");
}

/** Printed on the first start only: the password and key are stored hashed and cannot be shown again. */
export function firstStartBanner(urls: Urls, seed: DemoSeed): string {
  const rule = "-".repeat(72);
  return [
    rule,
    "osm demo: save these now, they are shown only once",
    "",
    `  dashboard   ${urls.dashboard}`,
    `  login       ${seed.email}`,
    `  password    ${seed.password}`,
    "",
    `  gateway     ${urls.gateway}`,
    `  demo key    ${seed.apiKey}`,
    "",
    "  try it:",
    `    curl ${urls.gateway}/chat/completions \\`,
    `      -H "Authorization: Bearer ${seed.apiKey}" \\`,
    `      -H "Content-Type: application/json" \\`,
    `      -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`,
    "",
    `  lost the password?  pnpm osm reset-password ${seed.email}`,
    rule,
    "",
  ].join("\n");
}
