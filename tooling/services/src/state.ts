import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FatalError } from "./fatal-error.ts";
import { freePort } from "./ports.ts";

export const portNames = ["pgPort", "redisPort", "fakeProviderPort"] as const;
export type PortName = (typeof portNames)[number];

/** `<dataDir>/state.json`: ports chosen at first start, reused so URLs stored in the database stay valid. */
export type ServiceState = Partial<Record<PortName, number>>;

const stateFile = (dataDir: string) => join(dataDir, "state.json");

const isPort = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value > 0 && value < 65_536;

export function readState(dataDir: string): ServiceState {
  const file = stateFile(dataDir);
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new FatalError(`${file} is not valid JSON: fix or delete it`);
  }
  const state: ServiceState = {};
  if (typeof parsed !== "object" || parsed === null) return state;
  for (const name of portNames) {
    const value: unknown = (parsed as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (!isPort(value)) throw new FatalError(`${file}: ${name} is not a port number`);
    state[name] = value;
  }
  return state;
}

/** Returns the recorded port of each name, choosing and recording free ones for those missing. */
export async function ensurePorts<K extends PortName>(
  dataDir: string,
  names: readonly K[],
): Promise<Record<K, number>> {
  const state = readState(dataDir);
  let changed = false;
  for (const name of names) {
    if (state[name] !== undefined) continue;
    const taken = new Set(Object.values(state));
    let port = await freePort();
    // The OS may hand back a port just released by an earlier probe.
    while (taken.has(port)) port = await freePort();
    state[name] = port;
    changed = true;
  }
  if (changed) {
    // Write then rename: a crash mid-write must not leave a truncated state file.
    const file = stateFile(dataDir);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }
  const ports = {} as Record<K, number>;
  for (const name of names) ports[name] = state[name]!;
  return ports;
}
