// The one Lua script behind RedisSemaphore. One script (dispatching on its first argument) rather
// than one per operation: after a Redis restart every EVALSHA answers NOSCRIPT and is re-sent as
// EVAL in the order the replies arrive, so a release never overtakes the acquire it undoes.
import { createHash } from 'node:crypto';

/**
 * Keys, all sharing one hash tag so that a cluster keeps them in one slot:
 *   1 holders: sorted set, permit id → lease expiry (ms, Redis clock), and the member `#used` →
 *              minus the permits held (in one key, so that the count and the leases expire together)
 *   2 queue:   sorted set, waiter id → position (one FIFO across every instance)
 *   3 alive:   sorted set, waiter id → expiry of the waiter's heartbeat (ms)
 *   4 fence:   a counter, INCR'd for every grant handed to an instance: the permit's fence. It never
 *              expires (a fence must keep increasing), and it survives a restart only with persistence.
 * An id is `<instance>:<sequence>:<weight>`; a waiter is told of its grant on `<prefix><instance>`.
 *
 * ARGV: op, permits, leaseMs, claimMs, wake-channel prefix, nDrops, dropId… (released permits and
 * departed waiters, taken out first), then per op:
 *   acquire id mode('wait'|'try')   → 1 fence if granted, else 0 (queued unless 'try')
 *   drop                            → 0 (only the drops)
 *   tick    nHeld heldId… waiterId… → nGranted (grantedId fence)… lostId…  (refresh, heartbeat,
 *                                     re-queue; a granted waiter's lease is refreshed: it is claimed)
 *   claim   waiterId                → 1 waiterId fence if its grant stands (refreshed), else 0
 *   peek                            → number of holders
 * Every reply starts with: used, queued, hint (for a tick while someone waits: ms until the
 * earliest holder lease or waiter heartbeat lapses; otherwise -1).
 *
 * A grant serve() makes to a queued waiter is only announced (PUBLISH): its fence is drawn when the
 * waiter's instance claims it (claim, or a tick), whose send time then bounds the lease it trusts.
 * Until then it is held for claimMs only, not a lease: a waiter whose instance is dead or stopped
 * cannot sit on freed permits for a whole lease. A lease that lapses (an unclaimed grant, or a
 * holder no longer refreshed) says its instance has stopped running: its waiters leave the line
 * with it, so that a dead instance's whole crowd of waiters costs the others one claim window,
 * not one per batch of permits. An instance that was only paused names them again at its next
 * tick, and they go to the end of the line.
 *
 * The uncontended path stays short (acquire: 6 commands, drop: 3): lapsed leases are purged only
 * when a grant needs the room, and the queue is looked at only when someone is in it.
 */
export const LUA = `
local H, Q, A, F = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op, permits, lease, claim, wake = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local queued = redis.call('ZCARD', Q)
local used, now
local wroteH, wroteQ, purged = false, false, false

local function clock()
  if now == nil then
    local t = redis.call('TIME')
    now = t[1] * 1000 + math.floor(t[2] / 1000)
  end
  return now
end
local function weight(id) return tonumber(string.match(id, '(%d+)$')) end
local function instance(id) return string.match(id, '^([^:]*)') end
local function hold(id, ms)
  used = used + weight(id)
  redis.call('ZADD', H, clock() + ms, id, -used, '#used')
  wroteH = true
end
local function unhold(id)
  if redis.call('ZREM', H, id) == 0 then return false end
  used = -tonumber(redis.call('ZINCRBY', H, weight(id), '#used'))
  if used < 0 then
    used = 0
    redis.call('ZADD', H, 0, '#used')
  end
  return true
end
local function enqueue(id)
  local last = redis.call('ZRANGE', Q, -1, -1, 'WITHSCORES')
  redis.call('ZADD', Q, (tonumber(last[2]) or 0) + 1, id)
  redis.call('ZADD', A, clock() + lease, id)
  -- A new line gets its expiry here; a longer one has it from its waiters' heartbeats.
  if queued == 0 then wroteQ = true end
  queued = queued + 1
end
local function unqueue(id)
  if redis.call('ZREM', Q, id) == 0 then return false end
  redis.call('ZREM', A, id)
  queued = queued - 1
  return true
end
local function readUsed()
  if used == nil then used = -tonumber(redis.call('ZSCORE', H, '#used') or 0) end
end
-- Lapsed leases and waiters whose instance stopped heartbeating leave, at most once per call;
-- so do the waiters of an instance whose lease lapsed (see the header). The line is scanned only
-- then: a lapse is rare, the uncontended path never pays for it.
local function purge()
  if purged then return end
  purged = true
  readUsed()
  local expired = redis.call('ZRANGEBYSCORE', H, '(0', clock())
  local stopped = nil
  if #expired > 0 then
    stopped = {}
    for _, id in ipairs(expired) do
      used = used - weight(id)
      stopped[instance(id)] = true
    end
    if used < 0 then used = 0 end
    redis.call('ZREMRANGEBYSCORE', H, '(0', now)
    redis.call('ZADD', H, -used, '#used')
  end
  if queued > 0 then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', A, '-inf', now)) do unqueue(id) end
  end
  if stopped and queued > 0 then
    for _, id in ipairs(redis.call('ZRANGE', Q, 0, -1)) do
      if stopped[instance(id)] then unqueue(id) end
    end
  end
end
local function fits(w)
  if used + w <= permits then return true end
  purge()
  return used + w <= permits
end
local function serve()
  if queued == 0 then return end
  purge()
  while queued > 0 do
    local head = redis.call('ZRANGE', Q, 0, 0)[1]
    if used + weight(head) > permits then return end
    unqueue(head)
    hold(head, claim)
    redis.call('PUBLISH', wake .. instance(head), head)
  end
end

local arg = 7 + tonumber(ARGV[6]) -- the first argument of the op
local dropped = false
for i = 7, arg - 1 do
  if unhold(ARGV[i]) or (queued > 0 and unqueue(ARGV[i])) then dropped = true end
end

local out = {}
if op == 'acquire' then
  local id = ARGV[arg]
  local scores = redis.call('ZMSCORE', H, id, '#used')
  used = -tonumber(scores[2] or 0)
  if scores[1] and tonumber(scores[1]) <= clock() then
    purge() -- granted, but the grant lapsed unclaimed: the id is gone, ask as anew
    scores[1] = false
  end
  if scores[1] then
    -- A resent acquire (ioredis resends a command in flight when it reconnects) that was queued,
    -- then granted: this reply claims the grant, so its lease runs from now.
    redis.call('ZADD', H, 'XX', clock() + lease, id)
    wroteH = true
    out[1] = 1
    out[2] = redis.call('INCR', F)
  elseif queued > 0 and redis.call('ZSCORE', Q, id) then out[1] = 0
  else
    serve()
    if queued == 0 and fits(weight(id)) then
      hold(id, lease)
      out[1] = 1
      out[2] = redis.call('INCR', F)
    elseif ARGV[arg + 1] == 'try' then out[1] = 0
    else enqueue(id); out[1] = 0 end
  end
elseif op == 'drop' then
  if dropped then serve() end
  readUsed()
  out[1] = 0
elseif op == 'claim' then
  if dropped then serve() end
  readUsed()
  local id = ARGV[arg]
  local expiry = redis.call('ZSCORE', H, id)
  if expiry and tonumber(expiry) > clock() then
    redis.call('ZADD', H, 'XX', now + lease, id)
    wroteH = true
    out[1] = 1
    out[2] = id
    out[3] = redis.call('INCR', F)
  else out[1] = 0 end
elseif op == 'tick' then
  purge()
  local last = arg + tonumber(ARGV[arg])
  local lost = {}
  for i = arg + 1, last do
    if redis.call('ZSCORE', H, ARGV[i]) then
      redis.call('ZADD', H, 'XX', now + lease, ARGV[i])
      wroteH = true
    else lost[#lost + 1] = ARGV[i] end
  end
  for i = last + 1, #ARGV do
    local id = ARGV[i]
    if not redis.call('ZSCORE', H, id) then
      if redis.call('ZSCORE', Q, id) then
        redis.call('ZADD', A, 'XX', now + lease, id)
        wroteQ = true
      else enqueue(id) end
    end
  end
  serve()
  local granted = {}
  for i = last + 1, #ARGV do
    if redis.call('ZSCORE', H, ARGV[i]) then
      redis.call('ZADD', H, 'XX', now + lease, ARGV[i])
      granted[#granted + 1] = ARGV[i]
      granted[#granted + 1] = redis.call('INCR', F)
    end
  end
  out[1] = #granted / 2
  for _, id in ipairs(granted) do out[#out + 1] = id end
  for _, id in ipairs(lost) do out[#out + 1] = id end
else
  purge()
  serve()
  out[1] = redis.call('ZCOUNT', H, '(0', '+inf')
end

-- Keys outlive every entry in them by a lease, then go: an abandoned semaphore leaves only its fence.
if wroteH then redis.call('PEXPIRE', H, lease * 2) end
if wroteQ then
  redis.call('PEXPIRE', Q, lease * 2)
  redis.call('PEXPIRE', A, lease * 2)
end
-- Only an instance with callers waiting needs to know when the line can next move.
local hint = -1
if queued > 0 and op == 'tick' then
  local h = redis.call('ZRANGEBYSCORE', H, '(0', '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local a = redis.call('ZRANGE', A, 0, 0, 'WITHSCORES')
  hint = math.max(math.min(tonumber(h[2]) or (clock() + lease), tonumber(a[2]) or (clock() + lease)) - clock(), 0)
end
return { used, queued, hint, unpack(out) }
`;

/** SHA1 of {@link LUA}, for EVALSHA. */
export const SHA = createHash('sha1').update(LUA).digest('hex');

/** The keys of the semaphore named `key`, in the script's order, and the prefix of its wake channels. */
export function keysOf(key: string): { keys: [string, string, string, string]; wake: string } {
  const base = `unwedge:sem:{${key}}`;
  return {
    keys: [`${base}:holders`, `${base}:queue`, `${base}:alive`, `${base}:fence`],
    wake: `${base}:wake:`,
  };
}
