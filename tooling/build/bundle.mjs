#!/usr/bin/env node
// `osm-bundle [entry ...]` in an app's directory: plain ESM JavaScript in dist/ for `node`, with
// the internal @osm/* packages (TypeScript source, which Node will not run from node_modules)
// inlined and every npm package left as an import of the app's own dependencies.
// `osmBundle.copy` in package.json lists directories copied into dist/ ({ "from": "to" }).
import { cpSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { basename, resolve } from "node:path";
import { build } from "esbuild";

const manifest = JSON.parse(readFileSync("package.json", "utf8"));
const declared = new Set(Object.keys(manifest.dependencies ?? {}));
const builtins = new Set(builtinModules);
const entries = process.argv.slice(2);
if (entries.length === 0) entries.push("src/main.ts");

const packageOf = (specifier) =>
  specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];

/**
 * An npm import inlined from an internal package resolves at run time from this app's
 * node_modules, so the app must declare it: refuse the build rather than fail in production.
 */
const externals = {
  name: "osm-externals",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("@osm/")) return undefined;
      if (args.path.startsWith("node:") || builtins.has(args.path)) {
        return { path: args.path, external: true };
      }
      const name = packageOf(args.path);
      if (!declared.has(name)) {
        return {
          errors: [
            {
              text: `${name} (imported by ${args.importer}) is not a dependency of ${manifest.name}: add it to its package.json`,
            },
          ],
        };
      }
      return { path: args.path, external: true };
    });
  },
};

rmSync("dist", { recursive: true, force: true });
const result = await build({
  entryPoints: Object.fromEntries(entries.map((e) => [basename(e).replace(/\.ts$/, ""), e])),
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  plugins: [externals],
  logLevel: "warning",
  metafile: true,
});
for (const [from, to] of Object.entries(manifest.osmBundle?.copy ?? {})) {
  cpSync(resolve(from), resolve("dist", to), { recursive: true });
}
const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith(".js"));
for (const [file, output] of outputs) {
  console.log(`${manifest.name}: ${file} (${Math.round(output.bytes / 1024)} KiB)`);
}
