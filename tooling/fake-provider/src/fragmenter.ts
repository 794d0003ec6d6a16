// Splits an outgoing byte stream at random offsets so clients are exercised on the cases real
// networks and proxies produce: a chunk ending inside a multi-byte UTF-8 character, between
// the \r and \n of a CRLF, or in the middle of one SSE event while carrying the next.

export type Fragmenter = {
  push(bytes: Uint8Array): Buffer[];
  // Returns the piece held back from the last push.
  flush(): Buffer[];
};

const specialCutChance = 0.5;
const plainCutChance = 0.08;
const carryChance = 0.5;

// mulberry32: tiny, seedable, and good enough to scatter split points reproducibly.
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isContinuationByte = (byte: number) => (byte & 0xc0) === 0x80;

export function createFragmenter(seed: number): Fragmenter {
  const random = seededRandom(seed);
  let carry = Buffer.alloc(0);
  // The first occurrence of each hard case is always split, so a short response still covers it.
  let splitMultibyte = false;
  let splitCrlf = false;

  function cutBefore(bytes: Buffer, index: number): boolean {
    const previous = bytes[index - 1]!;
    const next = bytes[index]!;
    if (isContinuationByte(next)) {
      const first = !splitMultibyte;
      splitMultibyte = true;
      return first || random() < specialCutChance;
    }
    if (previous === 0x0d && next === 0x0a) {
      const first = !splitCrlf;
      splitCrlf = true;
      return first || random() < specialCutChance;
    }
    return random() < plainCutChance;
  }

  return {
    push(input) {
      const bytes = Buffer.concat([carry, input]);
      carry = Buffer.alloc(0);
      const pieces: Buffer[] = [];
      let start = 0;
      for (let index = 1; index < bytes.length; index++) {
        if (!cutBefore(bytes, index)) continue;
        pieces.push(bytes.subarray(start, index));
        start = index;
      }
      const last = bytes.subarray(start);
      // Holding the tail back makes the next write start mid-event.
      if (last.length > 0 && random() < carryChance) carry = Buffer.from(last);
      else if (last.length > 0) pieces.push(last);
      return pieces;
    },
    flush() {
      const rest = carry;
      carry = Buffer.alloc(0);
      return rest.length > 0 ? [rest] : [];
    },
  };
}
