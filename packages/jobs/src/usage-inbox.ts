/**
 * The usage inbox: each proxy process appends every finished request's usage event (JSON) to a
 * Redis list of its own — in the same round trip as the request's settlement where it has one —
 * and a request completes only once that append is acknowledged, so the event is as durable as
 * a BullMQ job in the same Redis. The proxy then moves its inbox into BullMQ jobs of many
 * events each (a short group window), off the request path. A proxy that dies leaves its inbox
 * behind: a live proxy adopts it once the dead one's heartbeat has expired.
 */

// One hash tag for every inbox, heartbeat and the registry: adoption moves one proxy's inbox to
// another's atomically, which a cluster allows only within one slot. That slot's node takes
// every usage append, as the BullMQ queue's node takes every job.
const tag = "{usage-inbox}";

export const inboxKeys = (prefix: string, id: string) => ({
  inbox: `${prefix}${tag}:${id}`,
  alive: `${prefix}${tag}:${id}:alive`,
});
/** Every inbox that may hold events: its owner's id, removed once adopted or closed cleanly. */
export const inboxRegistry = (prefix: string) => `${prefix}${tag}:registry`;

/**
 * Removes the first ARGV[1] entries of an inbox only if they are still the ones that were
 * moved (first and last compared): if the inbox was adopted meanwhile, nothing is removed and
 * the adopter moves them again (the ledger takes each request id once).
 * KEYS: inbox. ARGV: count, first entry, last entry. Returns 1 when trimmed.
 */
export const trimInboxScript = `
local n = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[2] then return 0 end
if redis.call('LINDEX', KEYS[1], n - 1) ~= ARGV[3] then return 0 end
redis.call('LTRIM', KEYS[1], n, -1)
return 1
`;

/**
 * Appends a dead proxy's inbox to the adopter's and forgets the dead one, atomically, unless
 * its owner came back (its heartbeat key exists again).
 * KEYS: dead inbox, dead heartbeat, adopter's inbox, registry. ARGV: dead id.
 * Returns the number of entries adopted, or -1 when the owner is alive.
 */
export const adoptInboxScript = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local moved = 0
while true do
  local items = redis.call('LPOP', KEYS[1], 1000)
  if not items then break end
  redis.call('RPUSH', KEYS[3], unpack(items))
  moved = moved + #items
end
redis.call('SREM', KEYS[4], ARGV[1])
return moved
`;
