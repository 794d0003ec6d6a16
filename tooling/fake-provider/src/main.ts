import { startFakeProvider } from "./server.ts";

// Standalone fake upstream for the demo and for tests that need it in another process.
// Configuration: FAKE_PROVIDER_PORT (default 0: a free port), FAKE_PROVIDER_HOST (127.0.0.1).
// The first stdout line is the contract with whoever spawned it: parse the URL from it.

function readPort(value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`FAKE_PROVIDER_PORT must be an integer from 0 to 65535, got "${value}"\n`);
    process.exit(1);
  }
  return port;
}

const provider = await startFakeProvider({
  port: readPort(process.env["FAKE_PROVIDER_PORT"]),
  host: process.env["FAKE_PROVIDER_HOST"] || "127.0.0.1",
});
process.stdout.write(`fake-provider listening on ${provider.url}\n`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    provider.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
