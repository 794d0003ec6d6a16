/**
 * The part of a key Redis Cluster hashes to choose its slot: the text between the first `{` and
 * the next `}` when that is not empty, else the whole key. Keys with equal tags share a slot.
 */
export function hashTag(key: string): string {
  const open = key.indexOf("{");
  if (open === -1) return key;
  const close = key.indexOf("}", open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/** True when one multi-key command or script may take all these keys on a cluster. */
export function inOneSlot(keys: readonly string[]): boolean {
  return new Set(keys.map(hashTag)).size <= 1;
}
