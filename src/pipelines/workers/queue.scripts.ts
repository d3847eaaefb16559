// The Lua scripts behind StepQueue: each state change of a task is one script, so it is atomic
// however many replicas and workers call at once. Key layout: see queue.ts.

// Shared by every script. ARGV[1] prefix, ARGV[2] now (ms), ARGV[3] resultTtlMs, ARGV[4] maxLogLines.
const PRELUDE = `
local p, now, ttl, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function tkey(m) return p .. 'task:' .. m end
local function lkey(m) return p .. 'log:' .. m end
local function log(m, line)
  redis.call('XADD', lkey(m), 'MAXLEN', '~', maxlen, '*', 's', 'system', 'l', line)
  redis.call('PEXPIRE', lkey(m), ttl)
end
local function attempt(outcome, message, lost)
  return '{"outcome":"' .. outcome .. '","exitCode":null,"metrics":{},"metricErrors":[],"outputs":{},"message":'
    .. cjson.encode(message) .. (lost and ',"lost":true' or '') .. '}'
end
-- The result goes last into the log stream; the task keeps only its state, so enqueueing the same
-- attempt again stays a no-op, and no copy of its secrets stays behind.
local function finish(m, result)
  local t = tkey(m)
  local w = redis.call('HGET', t, 'worker')
  if w and redis.call('HGET', p .. 'worker:' .. w, 'task') == m then redis.call('HDEL', p .. 'worker:' .. w, 'task') end
  redis.call('ZREM', p .. 'queue', m)
  redis.call('SREM', p .. 'claimed', m)
  redis.call('DEL', t)
  redis.call('HSET', t, 'state', 'done')
  redis.call('PEXPIRE', t, ttl)
  redis.call('XADD', lkey(m), 'MAXLEN', '~', maxlen, '*', 'result', result)
  redis.call('PEXPIRE', lkey(m), ttl)
end
`;

// ARGV[5] member, ARGV[6] task JSON, ARGV[7] requirements JSON. 1 when queued, 0 when known already.
export const ENQUEUE = `${PRELUDE}
local m = ARGV[5]
if redis.call('EXISTS', tkey(m)) == 1 then return 0 end
local seq = redis.call('INCR', p .. 'seq')
redis.call('HSET', tkey(m), 'task', ARGV[6], 'req', ARGV[7], 'state', 'queued', 'enqueuedAt', now, 'requeues', 0)
redis.call('ZADD', p .. 'queue', seq, m)
redis.call('PUBLISH', p .. 'wake', m)
return 1`;

// ARGV[5] worker, ARGV[6] labels JSON, ARGV[7] deadAfterMs, ARGV[8] scanLimit. The task JSON or nil.
// A numeric requirement is a minimum when the worker's label is a number too (gpu=1 takes gpu=2);
// anything else must be equal, and a label the worker lacks refuses the task.
export const CLAIM = `${PRELUDE}
local w, labels = ARGV[5], cjson.decode(ARGV[6])
local function isnum(s) return string.match(s, '^%-?%d+%.?%d*$') ~= nil end
local function fits(req)
  for k, v in pairs(req) do
    local have = labels[k]
    if type(have) ~= 'string' then return false end
    if isnum(v) and isnum(have) then
      if tonumber(have) < tonumber(v) then return false end
    elseif have ~= v then return false end
  end
  return true
end
redis.call('SET', p .. 'alive:' .. w, now, 'PX', ARGV[7])
redis.call('HSET', p .. 'worker:' .. w, 'labels', ARGV[6], 'lastSeen', now)
redis.call('SADD', p .. 'workers', w)
for _, m in ipairs(redis.call('ZRANGE', p .. 'queue', 0, tonumber(ARGV[8]) - 1)) do
  local req = redis.call('HGET', tkey(m), 'req')
  if not req then
    redis.call('ZREM', p .. 'queue', m)
  elseif fits(cjson.decode(req)) then
    redis.call('ZREM', p .. 'queue', m)
    redis.call('HSET', tkey(m), 'state', 'claimed', 'worker', w, 'claimedAt', now)
    redis.call('SADD', p .. 'claimed', m)
    redis.call('HSET', p .. 'worker:' .. w, 'task', m)
    return redis.call('HGET', tkey(m), 'task')
  end
end
return false`;

// ARGV[5] member, ARGV[6] result JSON, ARGV[7] worker ('' for any). 1 when accepted.
export const COMPLETE = `${PRELUDE}
local m, t = ARGV[5], tkey(ARGV[5])
if redis.call('HGET', t, 'state') ~= 'claimed' then return 0 end
if ARGV[7] ~= '' and redis.call('HGET', t, 'worker') ~= ARGV[7] then return 0 end
finish(m, ARGV[6])
return 1`;

// ARGV[5] member. 'removed', 'flagged' or 'unknown'.
export const CANCEL = `${PRELUDE}
local m = ARGV[5]
local state = redis.call('HGET', tkey(m), 'state')
if state == 'queued' then
  finish(m, attempt('cancelled', 'cancelled before a worker took it', false))
  return 'removed'
elseif state == 'claimed' then
  redis.call('HSET', tkey(m), 'cancel', '1')
  return 'flagged'
end
return 'unknown'`;

// ARGV[5] maxRequeues, ARGV[6] deadAfterMs (for messages). {re-queued members, lost members}.
// A re-queued task goes to the head of the queue: it has waited longest.
export const REAP = `${PRELUDE}
local max = tonumber(ARGV[5])
local requeued, lost = {}, {}
for _, m in ipairs(redis.call('SMEMBERS', p .. 'claimed')) do
  local t = tkey(m)
  local w = redis.call('HGET', t, 'worker')
  if not w then
    redis.call('SREM', p .. 'claimed', m)
  elseif redis.call('EXISTS', p .. 'alive:' .. w) == 0 then
    local why = 'worker ' .. w .. ' stopped answering (no heartbeat for ' .. ARGV[6] .. ' ms)'
    local n = tonumber(redis.call('HGET', t, 'requeues') or '0')
    if redis.call('HGET', t, 'cancel') then
      finish(m, attempt('cancelled', why .. ' after the step was cancelled', false))
    elseif n >= max then
      finish(m, attempt('failed', why .. '; the step had already been re-queued ' .. n .. ' times', true))
      table.insert(lost, m)
    else
      redis.call('HSET', t, 'state', 'queued', 'requeues', n + 1)
      redis.call('HDEL', t, 'worker', 'claimedAt')
      redis.call('SREM', p .. 'claimed', m)
      local head = redis.call('ZRANGE', p .. 'queue', 0, 0, 'WITHSCORES')
      redis.call('ZADD', p .. 'queue', head[2] and tonumber(head[2]) - 1 or 0, m)
      log(m, why .. '; step re-queued (' .. (n + 1) .. ' of ' .. max .. ')')
      redis.call('PUBLISH', p .. 'wake', m)
      table.insert(requeued, m)
    end
  end
end
for _, w in ipairs(redis.call('SMEMBERS', p .. 'workers')) do
  if redis.call('EXISTS', p .. 'alive:' .. w) == 0 then
    redis.call('SREM', p .. 'workers', w)
    redis.call('DEL', p .. 'worker:' .. w)
  end
end
return {requeued, lost}`;
