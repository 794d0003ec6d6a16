// Lua run atomically inside Redis: admission is one round trip for rate limits and budget.
// Money is integer nano-USD; every amount here stays below 2^53 (limits are at most $1M =
// 1e15 nanos), so Lua's doubles compare them exactly. Counters change with HINCRBY/INCRBY,
// which Redis does in 64-bit integers.

/** Drops reservations whose deadline passed (their request crashed or was never settled). */
const expireReservations = `
local function fmt(n) return string.format('%.0f', n) end
local function expire_reservations(deadlines, amounts, budget, now)
  local stale = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now)
  for _, id in ipairs(stale) do
    local amount = redis.call('HGET', amounts, id)
    if amount then
      -- '0 - n', not '-n': Lua's -0 is not an integer to HINCRBY.
      redis.call('HINCRBY', budget, 'reserved', 0 - tonumber(amount))
      redis.call('HINCRBY', budget, 'expired', tonumber(amount))
      redis.call('HDEL', amounts, id)
    end
  end
  if #stale > 0 then redis.call('ZREMRANGEBYSCORE', deadlines, '-inf', now) end
end
`;

/** Forgets rate-limit entries older than the sliding minute. */
const trimRateLogs = `
local function trim_rate_logs(requests, tokens, token_amounts, token_total, since)
  redis.call('ZREMRANGEBYSCORE', requests, '-inf', since)
  local old = redis.call('ZRANGEBYSCORE', tokens, '-inf', since)
  local freed = 0
  for _, id in ipairs(old) do
    local n = redis.call('HGET', token_amounts, id)
    if n then freed = freed + tonumber(n) end
    redis.call('HDEL', token_amounts, id)
  end
  if #old > 0 then
    redis.call('ZREMRANGEBYSCORE', tokens, '-inf', since)
    redis.call('DECRBY', token_total, freed)
  end
end
`;

/**
 * KEYS: budget, reservation deadlines, reservation amounts, request log, token log, token
 *       amounts, token total
 * ARGV: now ms, request id, reservation nanos, limit nanos (-1: none), deadline ms,
 *       requests per minute (-1), tokens per minute (-1), token estimate, window ttl s (-1),
 *       flagged (1: the key is marked as having hit its limit)
 * Returns {status, spent, reserved, retryAfterMs}; status is ok | missing | limit_reached |
 * no_fit | rate_requests | rate_tokens.
 */
export const admitScript = `
${expireReservations}
${trimRateLogs}
local now = tonumber(ARGV[1])
local id = ARGV[2]
local amount = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local deadline = tonumber(ARGV[5])
local rpm = tonumber(ARGV[6])
local tpm = tonumber(ARGV[7])
local tokens = tonumber(ARGV[8])
local ttl = tonumber(ARGV[9])
local minute = 60000

-- Rate limits first (the contract's order), checked before anything is recorded.
if rpm > 0 or tpm > 0 then
  trim_rate_logs(KEYS[4], KEYS[5], KEYS[6], KEYS[7], now - minute)
  if rpm > 0 and redis.call('ZCARD', KEYS[4]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    return {'rate_requests', '0', '0', fmt(tonumber(oldest[2]) + minute - now)}
  end
  local used = tonumber(redis.call('GET', KEYS[7]) or '0')
  if tpm > 0 and used + tokens > tpm then
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
    local wait = minute
    if oldest[2] then wait = tonumber(oldest[2]) + minute - now end
    return {'rate_tokens', '0', '0', fmt(wait)}
  end
end

local spent = 0
local reserved = 0
if limit >= 0 then
  -- A missing counter is never treated as zero: the caller rebuilds it from PostgreSQL first.
  if redis.call('HEXISTS', KEYS[1], 'init') == 0 then return {'missing', '0', '0', '0'} end
  expire_reservations(KEYS[2], KEYS[3], KEYS[1], now)
  spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
  reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
  -- A key the worker flagged (limit hit) is refused on every model, after the rate limits.
  if spent >= limit or ARGV[10] == '1' then return {'limit_reached', fmt(spent), fmt(reserved), '0'} end
  if spent + reserved + amount > limit then
    return {'no_fit', fmt(spent), fmt(reserved), '0'}
  end
  redis.call('HINCRBY', KEYS[1], 'reserved', amount)
  redis.call('ZADD', KEYS[2], deadline, id)
  redis.call('HSET', KEYS[3], id, amount)
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[2], ttl)
    redis.call('EXPIRE', KEYS[3], ttl)
  end
  reserved = reserved + amount
end

if rpm > 0 or tpm > 0 then
  redis.call('ZADD', KEYS[4], now, id)
  redis.call('ZADD', KEYS[5], now, id)
  redis.call('HSET', KEYS[6], id, tokens)
  redis.call('INCRBY', KEYS[7], tokens)
  for i = 4, 7 do redis.call('PEXPIRE', KEYS[i], 2 * minute) end
end
return {'ok', fmt(spent), fmt(reserved), '0'}
`;

/**
 * Settles a request at its actual cost (0 releases it) and corrects its token count; with a
 * sixth key, also appends the request's usage event to that usage inbox, so settlement and
 * the event's durability share the request's one round trip after the upstream answered.
 * KEYS: budget, reservation deadlines, reservation amounts, token amounts, token total
 *       [, usage inbox]
 * ARGV: request id, cost nanos, actual tokens (-1: no rate log), track spend (1/0)
 *       [, usage event JSON]
 * Returns the spent total after settling.
 */
export const settleScript = `
local id = ARGV[1]
local cost = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local track = ARGV[4] == '1'
local spent = 0
if track then
  local amount = redis.call('HGET', KEYS[3], id)
  if amount then
    redis.call('HINCRBY', KEYS[1], 'reserved', 0 - tonumber(amount))
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZREM', KEYS[2], id)
  end
  spent = redis.call('HINCRBY', KEYS[1], 'spent', cost)
  redis.call('HINCRBY', KEYS[1], 'settled', 1)
end
if tokens >= 0 then
  local before = redis.call('HGET', KEYS[4], id)
  if before then
    redis.call('HSET', KEYS[4], id, tokens)
    redis.call('INCRBY', KEYS[5], tokens - tonumber(before))
  end
end
if KEYS[6] and ARGV[5] then redis.call('RPUSH', KEYS[6], ARGV[5]) end
return string.format('%.0f', spent)
`;

/** KEYS: reservation deadlines. ARGV: request id, new deadline ms. Keeps a live stream's hold. */
export const extendScript = `
return redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[2], ARGV[1])
`;

/**
 * Seeds a missing counter from PostgreSQL's settled total, and only ever raises it: a rebuild
 * racing with settlements can never lower what Redis already counted.
 * KEYS: budget. ARGV: spent nanos from PostgreSQL, ttl s (-1). Returns the spent total.
 */
export const rebuildScript = `
local pg = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
if redis.call('HEXISTS', KEYS[1], 'init') == 0 then
  -- Settlements that landed after Redis lost the counter are not in PostgreSQL yet (or are,
  -- and count twice: the safe side). Adding them keeps a restart from allowing an overspend.
  redis.call('HSET', KEYS[1], 'spent', string.format('%.0f', pg + current))
elseif pg > current then
  redis.call('HSET', KEYS[1], 'spent', ARGV[1])
end
redis.call('HSETNX', KEYS[1], 'spent', '0')
redis.call('HSETNX', KEYS[1], 'reserved', '0')
redis.call('HSET', KEYS[1], 'init', '1')
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
return redis.call('HGET', KEYS[1], 'spent')
`;

/**
 * Reconciliation of one counter against PostgreSQL: drift is repaired upwards only (Redis may
 * hold settlements the worker has not written yet, never less than what is settled), and
 * reservations past their deadline are released.
 * KEYS: budget, reservation deadlines, reservation amounts. ARGV: settled nanos from PostgreSQL,
 * now ms. Returns {raisedBy, expiredReservations}; nothing when the counter does not exist.
 */
export const reconcileScript = `
${expireReservations}
if redis.call('HEXISTS', KEYS[1], 'init') == 0 then return {'0', '0'} end
local pg = tonumber(ARGV[1])
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local raised = 0
if pg > spent then
  redis.call('HSET', KEYS[1], 'spent', ARGV[1])
  raised = pg - spent
end
local before = redis.call('ZCARD', KEYS[2])
expire_reservations(KEYS[2], KEYS[3], KEYS[1], tonumber(ARGV[2]))
local expired = before - redis.call('ZCARD', KEYS[2])
return {fmt(raised), fmt(expired)}
`;
