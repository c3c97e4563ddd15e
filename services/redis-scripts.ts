import type { ClientContext, Redis, Result } from 'ioredis';

/**
 * Lua scripts, each one atomic step in Redis. Registered with ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL after a restart.
 */

/**
 * KEYS: seq, log, epoch, ref, archive. ARGV: json head, json tail, retain, ttl s,
 * channel, fresh epoch, use ref ('1'/'0'), ref ttl s, message id, archive ('1'/'0'),
 * origin connId ('' for none), routing (`<origin>|<to>|<fromId>`).
 * The json is the message as clients see it, less the frame's `type`; the origin
 * is kept beside it in the stream, never inside, so it cannot reach a client.
 * With archiving on, the message joins the archive backlog in the same step, so
 * an acknowledged message is never missing from it.
 * Returns {1, seq} for a new message or {0, "id:seq"} for a repeated ref.
 * Publishes `m<epoch>|<seq>|<routing>|<json>`: receiving nodes route on the header
 * and send the json on without parsing it; the epoch lets them notice a history reset.
 */
const PUBLISH = `
if ARGV[7] == '1' then
  local prior = redis.call('GET', KEYS[4])
  if prior then return {0, prior} end
end
local epoch = redis.call('GET', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  -- The counter is gone but a log is left: the history cannot be trusted, start a new epoch.
  redis.call('DEL', KEYS[2])
  epoch = false
end
if not epoch then
  epoch = ARGV[6]
  redis.call('SET', KEYS[3], epoch)
end
local seq = redis.call('INCR', KEYS[1])
local json = ARGV[1] .. seq .. ARGV[2]
if ARGV[11] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', 'm', json)
else
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', 'm', json, 'o', ARGV[11])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
if ARGV[7] == '1' then
  redis.call('SET', KEYS[4], ARGV[9] .. ':' .. seq, 'EX', ARGV[8])
end
if ARGV[10] == '1' then
  redis.call('XADD', KEYS[5], '*', 'e', epoch, 'm', json)
end
redis.call('PUBLISH', ARGV[5], 'm' .. epoch .. '|' .. seq .. '|' .. ARGV[12] .. '|' .. json)
return {1, seq}
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
    sbPublish(...args: Arg[]): Result<[number, string | number], Context>;
    sbHead(...args: Arg[]): Result<[string, string], Context>;
    sbPresenceAdd(...args: Arg[]): Result<number, Context>;
    sbPresenceRemove(...args: Arg[]): Result<number, Context>;
  }
}

/** Registers every script on a client; safe to call more than once. */
export function defineScripts(redis: Redis): void {
  redis.defineCommand('sbPublish', { numberOfKeys: 5, lua: PUBLISH });
  redis.defineCommand('sbHead', { numberOfKeys: 2, lua: HEAD });
  redis.defineCommand('sbPresenceAdd', { numberOfKeys: 7, lua: PRESENCE_ADD });
  redis.defineCommand('sbPresenceRemove', { numberOfKeys: 8, lua: PRESENCE_REMOVE });
}
