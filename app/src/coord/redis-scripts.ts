/**
 * Lua scripts that make breaker transitions and token-bucket takes atomic in Redis. They mirror
 * breaker-machine.ts and token-bucket.ts line for line; the shared coordination test suite runs
 * both implementations through the same cases. Times come from the caller's clock (ARGV) so tests
 * can drive them; replicas' clocks only need to agree to within a fraction of the cool-down.
 */

/**
 * KEYS[1] breaker hash, KEYS[2] sorted set of calls in flight (call id scored by when its slot
 * lapses); ARGV: op, now, failureThreshold, cooldownMs, probeLeaseMs, ttlMs, callId ('' = none).
 * Returns {state, admission}: admission 0 refused, 1 admitted, 2 the half_open probe.
 */
export const breakerScript = `
local key = KEYS[1]
local slots = KEYS[2]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local cooldown = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local callId = ARGV[7]
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
local h = redis.call('HMGET', key, 'state', 'failures', 'openedAt', 'probeUntil')
local exists = h[1] ~= false
local state = h[1] or 'closed'
local failures = tonumber(h[2]) or 0
local openedAt = tonumber(h[3]) or 0
local probeUntil = tonumber(h[4]) or 0
if state == 'open' and now >= openedAt + cooldown then
  state = 'half_open'
  probeUntil = 0
end
if op ~= 'state' and op ~= 'admit' and callId ~= '' then
  redis.call('ZREM', slots, callId)
end
local admitted = 0
if op == 'admit' then
  if state == 'closed' then
    if callId == '' or failures == 0 then
      admitted = 1
    elseif redis.call('ZCARD', slots) < threshold - failures then
      redis.call('ZADD', slots, now + lease, callId)
      admitted = 1
    end
  elseif state == 'half_open' and probeUntil <= now then
    probeUntil = now + lease
    admitted = 2
  end
elseif op == 'success' then
  if state ~= 'open' then
    state = 'closed'
    failures = 0
    probeUntil = 0
  end
elseif op == 'failure' then
  if state == 'closed' then
    failures = failures + 1
    if failures >= threshold then
      state = 'open'
      openedAt = now
      failures = 0
    end
  elseif state == 'half_open' then
    state = 'open'
    openedAt = now
    probeUntil = 0
  end
elseif op == 'release' then
  if state == 'half_open' then
    probeUntil = 0
  end
elseif op ~= 'state' then
  return redis.error_reply('unknown breaker op ' .. op)
end
if state == 'open' then
  redis.call('DEL', slots)
elseif redis.call('EXISTS', slots) == 1 then
  redis.call('PEXPIRE', slots, ttl)
end
if exists or state ~= 'closed' or failures > 0 then
  redis.call('HSET', key, 'state', state, 'failures', failures,
    'openedAt', string.format('%d', openedAt), 'probeUntil', string.format('%d', probeUntil))
  redis.call('PEXPIRE', key, ttl)
end
return {state, admitted}
`;

/**
 * KEYS[1] bucket hash; ARGV: op ('take' | 'adjust'), cost/delta, now, capacity, perMs, ttlMs.
 * Returns ms to wait (0 = taken) as a string, since Lua numbers become integers on the way out.
 */
export const tokenBucketScript = `
local key = KEYS[1]
local op = ARGV[1]
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local capacity = tonumber(ARGV[4])
local perMs = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local h = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(h[1])
local ts = tonumber(h[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
elseif now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * perMs)
  ts = now
end
local wait = 0
if op == 'take' then
  local need = math.min(cost, capacity)
  if tokens >= need then
    tokens = tokens - need
  else
    wait = math.max(1, math.ceil((need - tokens) / perMs))
  end
elseif op == 'adjust' then
  tokens = math.max(-capacity, math.min(capacity, tokens - cost))
else
  return redis.error_reply('unknown bucket op ' .. op)
end
redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', ts))
redis.call('PEXPIRE', key, ttl)
return tostring(wait)
`;
