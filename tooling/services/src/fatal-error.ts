/** A failure the operator can fix: printed as one `osm: …` line without a stack trace. */
export class FatalError extends Error {
  override name = "FatalError";
}

export function describeError(error: unknown): string {
  if (error instanceof FatalError) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
