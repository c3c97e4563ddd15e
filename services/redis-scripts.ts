import type { ClientContext, Redis, Result } from 'ioredis';

/**
 * Lua scripts, each one atomic step in Redis. Registered with ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL after a restart.
 */

/**
 * Publishes a batch of messages, each as one step, in order: a node sends every
 * message of one event-loop turn in one call, so a message costs a loop here,
 * not a command and a round trip. Per message, it checks the ref, assigns the
 * team's next seq, appends to the team's stream (origin kept beside the json,
 * never inside, so it cannot reach a client), remembers the ref, joins the
 * archive backlog when archiving is on (so an acknowledged message is never
 * missing from it) and PUBLISHes `M<epoch>|<seq>|<routing>|<json>`: receiving
 * nodes route on the header and send the json on without parsing it; the epoch
 * lets them notice a history reset. The json is the message as clients see it,
 * less the frame's `type`.
 *
 * KEYS: archive, then per message: seq, log, epoch, ref.
 * ARGV: retain, ttl s, ref ttl s, archive ('1'/'0'), fresh epoch, then per message:
 * json head, json tail, channel, use ref ('1'/'0'), message id, origin connId
 * ('' for none), routing (`<origin>|<to>|<fromId>`).
 * Returns per message {1, seq} when published, {0, "id:seq"} for a repeated ref,
 * or {-1, error} when Redis refused a command (the others still ran).
 *
 * Sent with EVAL, body and all, not through defineCommand: several batches are in
 * flight at once, and ioredis answers a NOSCRIPT (SCRIPT FLUSH, script eviction) by
 * resending the batch later, behind batches sent after it, which would break seq
 * order. Redis caches the compiled script by its hash either way.
 */
export const PUBLISH_BATCH = `
local retain, ttl, refTtl, archive, fresh = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local function publish(k, a)
  local useRef = ARGV[a + 4] == '1'
  if useRef then
    local prior = redis.call('GET', KEYS[k + 4])
    if prior then return {0, prior} end
  end
  local epoch = redis.call('GET', KEYS[k + 3])
  if redis.call('EXISTS', KEYS[k + 1]) == 0 and redis.call('EXISTS', KEYS[k + 2]) == 1 then
    -- The counter is gone but a log is left: the history cannot be trusted, start a new epoch.
    redis.call('DEL', KEYS[k + 2])
    epoch = false
  end
  if not epoch then
    epoch = fresh
    redis.call('SET', KEYS[k + 3], epoch)
  end
  local seq = redis.call('INCR', KEYS[k + 1])
  local json = ARGV[a + 1] .. seq .. ARGV[a + 2]
  local origin = ARGV[a + 6]
  if origin == '' then
    redis.call('XADD', KEYS[k + 2], 'MAXLEN', retain, seq .. '-0', 'm', json)
  else
    redis.call('XADD', KEYS[k + 2], 'MAXLEN', retain, seq .. '-0', 'm', json, 'o', origin)
  end
  redis.call('EXPIRE', KEYS[k + 1], ttl)
  redis.call('EXPIRE', KEYS[k + 2], ttl)
  redis.call('EXPIRE', KEYS[k + 3], ttl)
  if useRef then
    redis.call('SET', KEYS[k + 4], ARGV[a + 5] .. ':' .. seq, 'EX', refTtl)
  end
  if archive == '1' then
    redis.call('XADD', KEYS[1], '*', 'e', epoch, 'm', json)
  end
  redis.call('PUBLISH', ARGV[a + 3], 'M' .. epoch .. '|' .. seq .. '|' .. ARGV[a + 7] .. '|' .. json)
  return {1, seq}
end
local out = {}
for i = 0, (#KEYS - 1) / 4 - 1 do
  local ok, result = pcall(publish, 1 + i * 4, 5 + i * 7)
  if ok then
    out[i + 1] = result
  else
    out[i + 1] = {-1, type(result) == 'table' and result.err or tostring(result)}
  end
end
return out
`;

/** KEYS: seq, epoch. ARGV: fresh epoch, ttl s. Returns {seq, epoch}, creating the epoch if missing. */
const HEAD = `
local e = redis.call('GET', KEYS[2])
if not e then
  e = ARGV[1]
  redis.call('SET', KEYS[2], e, 'EX', ARGV[2])
end
return {redis.call('GET', KEYS[1]) or '0', e}
`;

/**
 * KEYS: conns, connIndex, teamConns, teamUsers, liveTeams, nodes, nodeConns.
 * ARGV: connId, info json, userId, teamId, nodeId.
 * Returns the user's connection count in the team after adding, or 0 if already present.
 */
const PRESENCE_ADD = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('SADD', KEYS[6], ARGV[5])
redis.call('SADD', KEYS[7], ARGV[1])
return redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
`;

/**
 * Same KEYS plus the lease of the node that holds the connection. ARGV: connId,
 * userId, teamId, and '1' when a survivor sweeps a dead node: then nothing is
 * removed if that node has renewed its lease meanwhile (returns -2).
 * Returns the user's connection count left in the team, or -1 if the connection was unknown.
 */
const PRESENCE_REMOVE = `
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[8]) == 1 then return -2 end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[7], ARGV[1])
local left = redis.call('HINCRBY', KEYS[4], ARGV[2], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[4], ARGV[2])
  left = 0
end
if redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[5], ARGV[3])
  redis.call('DEL', KEYS[4])
end
return left
`;

type Arg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    sbHead(...args: Arg[]): Result<[string, string], Context>;
    sbPresenceAdd(...args: Arg[]): Result<number, Context>;
    sbPresenceRemove(...args: Arg[]): Result<number, Context>;
  }
}

/** Registers every script on a client; safe to call more than once. */
export function defineScripts(redis: Redis): void {
  redis.defineCommand('sbHead', { numberOfKeys: 2, lua: HEAD });
  redis.defineCommand('sbPresenceAdd', { numberOfKeys: 7, lua: PRESENCE_ADD });
  redis.defineCommand('sbPresenceRemove', { numberOfKeys: 8, lua: PRESENCE_REMOVE });
}
