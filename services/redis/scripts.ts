import type { ClientContext, Result } from 'ioredis';
import type { RedisClient } from './connection';
import { MESSAGE_ARGS, PAYLOAD_LUA } from './payload';
import { PUBLISH_REPLY_LUA } from './publish-reply';

/**
 * Lua scripts, each one atomic step in Redis. Registered with ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL after a restart; the
 * publish batch (PUBLISH_BATCH) and the join path's HEADS, PRESENCE_ADD and
 * TEAMS_PUT have their own way (SocketScript).
 */

/**
 * A team's state is its counter and its epoch, written together with one TTL. When
 * either is gone (evicted, or written by a node that predates this rule) the history
 * cannot be trusted: seqs restart at 1 in a new epoch, so no (epoch, seq) is used
 * twice, in Redis or in the SQL archive keyed on it. A team never seen before takes
 * the same path. A new epoch is Redis's clock in microseconds, 16 digits, never at or
 * below the team's last one made (its floor key survives a failover to a replica whose
 * clock lags), so nodes can tell an older epoch from a newer one (services/epoch.ts).
 * The floor is the team's, in its slot (Redis Cluster), and outlives the team's keys
 * by far (FLOOR_MIN_TTL_S): a clock never lags by that much. The log is deleted only when there is one, so that for a new team
 * the first write is one Redis may refuse when it is out of memory.
 * Returns the epoch and the last seq.
 */
/** Least life of a team's epoch floor after its last new epoch: 30 days. */
const FLOOR_MIN_TTL_S = 30 * 24 * 3600;

const TEAM_HEAD = `
local function newEpoch(floorKey, epochKey, ttl)
  local now = redis.call('TIME')
  local us = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local floor = tonumber(redis.call('GET', floorKey) or '0') or 0
  local current = tonumber(redis.call('GET', epochKey) or '0') or 0
  if current > floor then floor = current end
  if us <= floor then us = floor + 1 end
  local epoch = string.format('%016.0f', us)
  redis.call('SET', floorKey, epoch, 'EX', math.max(tonumber(ttl) * 2, ${FLOOR_MIN_TTL_S}))
  return epoch
end
local function teamHead(seqKey, logKey, epochKey, floorKey, ttl)
  local head = redis.call('MGET', epochKey, seqKey)
  if head[1] and head[2] then return head[1], head[2] end
  -- MGET reads a key of another type as missing: GET refuses it, as it always did.
  local epoch = redis.call('GET', epochKey)
  local last = redis.call('GET', seqKey)
  if epoch and last then return epoch, last end
  epoch = newEpoch(floorKey, epochKey, ttl)
  redis.call('SET', epochKey, epoch, 'EX', ttl)
  if redis.call('EXISTS', logKey) == 1 then redis.call('DEL', logKey) end
  redis.call('SET', seqKey, 0, 'EX', ttl)
  return epoch, '0'
end
`;

/**
 * Redis Cluster, one publish call for a whole master (GROUPED): the teams of many
 * slots, keys in ARGV, so Redis's router checks none and the call runs on the master
 * it is written to; `allow-cross-slot-keys` lets it touch keys of all its slots.
 * Every command still checks its key's slot, and a script has no rollback: a key of a
 * slot being migrated away that is already gone (ASK), or of a slot this master does
 * not own or is only importing (MOVED), would fail the script half-way. So before
 * anything is written each team's slot is probed with a key that never exists (the
 * seq key plus PROBE_SUFFIX): that read is refused unless the master serves the slot
 * fully and stably now, and a script is one step, so it stays so to the end. A team
 * refused is not touched and answered `notHere()`, for its slot's own call, which
 * follows ASK and MOVED as always.
 */
const PROBE_SUFFIX = ':probe';

const GROUPED_LUA = `
local function notServedHere(keys, stride, teams)
  local out = {}
  for t = 0, teams - 1 do
    local probe = redis.pcall('EXISTS', keys[t * stride + 1] .. ${JSON.stringify(PROBE_SUFFIX)})
    if type(probe) == 'table' and probe.err then out[t] = true end
  end
  return out
end
`;

/**
 * Publishes a batch of messages, each as one step, in order: a node sends every
 * message of one event-loop turn in one call, so a message costs a loop here,
 * not a command and a round trip. Per message, it checks the ref, refuses it while
 * the archive backlog is full, takes the team's next seq, joins the archive backlog
 * when archiving is on (so an acknowledged message is never missing from it),
 * appends to the team's stream (origin kept beside the json, never inside, so it
 * cannot reach a client; trimmed to `retain` by the same XADD), and only then
 * commits the counter and remembers the ref. Each team's messages of the batch go
 * out in one PUBLISH once the batch has run, in seq order: payload.ts describes
 * every format written here, and PAYLOAD_LUA is its code. The epoch in the payload
 * lets nodes notice a history reset.
 *
 * Nothing that can fail runs after the counter moves, so a refused message never
 * leaves a hole in the seqs. Under maxmemory a script's first write is the one Redis
 * refuses, and it comes before the counter too. The backlog entry goes first because
 * it is the one that can be undone: its id is Redis's (`*`), while an XDEL from the
 * team's stream would leave the stream's last id at the seq, and the same seq could
 * then never be appended again.
 *
 * A team's head is read once per batch and kept in `heads`; its counter and TTLs are
 * written once, after the batch's last message, and its PUBLISH goes with them. The script runs as one step, so
 * nobody sees the counter between, and the end is the same as writing it per
 * message: the counter at the last seq handed out. Those writes cannot be refused:
 * the team's XADD wrote first (Redis refuses only a script's first write under
 * maxmemory), and SET and EXPIRE do not care about what a key holds.
 *
 * KEYS: per team of the batch (in the order of its first message): seq, log, epoch,
 * epoch floor, and with archiving on the archive stream it joins (on Redis Cluster
 * its slot's, keys.slotArchive); then the ref key of each message sent with a ref,
 * in message order. A team's keys go once, not with each of its messages. On Redis
 * Cluster a call is one slot's, or a whole master's with no KEYS declared: then
 * ARGV starts with the number of keys and the keys, and the ARGV below follow
 * (GROUPED_LUA).
 * ARGV: retain, ttl s, ref ttl s, archive ('1'/'0'), most archive backlog entries
 * (0: no bound), '1' to SPUBLISH (Redis Cluster: sharded pub/sub, the team's channel
 * is in the team's slot) or '0' to PUBLISH, the number of teams; per team: channel,
 * the epoch and last seq the publishing node knows of the team ('' and 0 when it
 * follows none); then per message: its team's index (from 0; -1 - the index for a
 * message sent with a ref, which takes the next of the ref keys), and the
 * MESSAGE_ARGS of pushMessageArgs (payload.ts): one argument fewer per message than
 * a ref index of its own, and the id is read off the json's head. A counter below the known seq in the known epoch means Redis lost
 * acked writes, and the team starts a new epoch before the message takes a seq.
 * Returns one text, a line per message (publish-reply.ts): its seq when published, the
 * ref record for a repeated ref, or why it was refused: the archive backlog is full,
 * or Redis refused a command (the others still ran); a refusal costs no seq.
 *
 * Not sent through defineCommand: several batches are in flight at once, and ioredis
 * answers a NOSCRIPT (SCRIPT FLUSH, script eviction) by resending the batch later,
 * behind batches sent after it, which would break seq order. A SocketScript sends it
 * by hash only on a connection where it has already answered, and sends a NOSCRIPT
 * batch again at once (script-command.ts).
 */
const PUBLISH_BATCH = `${TEAM_HEAD}${PAYLOAD_LUA}${PUBLISH_REPLY_LUA}${GROUPED_LUA}
-- A call for a whole master (GROUPED) declares no keys: they lead ARGV, after their
-- count, and O is where the rest of ARGV starts.
local K, O = KEYS, 0
if #KEYS == 0 then
  O = tonumber(ARGV[1]) + 1
  K = {}
  for i = 2, O do K[i - 1] = ARGV[i] end
end
local retain, ttl, refTtl, archive = ARGV[O + 1], ARGV[O + 2], ARGV[O + 3], ARGV[O + 4] == '1'
local backlogMax = tonumber(ARGV[O + 5])
local publishCommand = ARGV[O + 6] == '1' and 'SPUBLISH' or 'PUBLISH'
local teamCount = tonumber(ARGV[O + 7])
-- K[t * S + 1..S]: team t's seq, log, epoch, epoch floor (and archive stream when
-- archiving); then the refs, the r-th at REFS + r.
local S = archive and 5 or 4
local REFS = teamCount * S
-- ARGV[TEAMS + t * 3 + 1..3]: team t's channel, the epoch and last seq the node knows.
local TEAMS = O + 7
local FIRST_MESSAGE = TEAMS + teamCount * 3
local PER_MESSAGE = ${1 + MESSAGE_ARGS}
-- Per team of the batch, by its index: {epoch, last seq, the last seq taken as text
-- (false: none taken), the entries of the messages published (newEntries)}.
local heads = {}
local function head(t)
  local known = heads[t]
  if known then return known end
  local k = t * S
  local seqKey = K[k + 1]
  local epoch, last = teamHead(seqKey, K[k + 2], K[k + 3], K[k + 4], ttl)
  local n = tonumber(last)
  if not n then return nil end
  local a = TEAMS + t * 3
  if epoch == ARGV[a + 2] and n < tonumber(ARGV[a + 3]) then
    -- The publishing node delivered seqs this counter has not reached: Redis went back in
    -- time (see REWOUND). Reusing them would hand known seqs to other messages.
    redis.call('DEL', seqKey)
    epoch, last = teamHead(seqKey, K[k + 2], K[k + 3], K[k + 4], ttl)
    n = 0
  end
  known = {epoch, n, false, newEntries()}
  heads[t] = known
  return known
end
local function publish(a, t, refKey)
  local jsonHead, tail, routing, origin = messageArgs(a + 1)
  local archiveKey = archive and K[t * S + 5]
  if refKey then
    local prior = redis.call('GET', refKey)
    if prior then return repeated(prior) end
  end
  -- Past the bound the message is refused, never an older entry dropped: Redis then
  -- keeps memory for the counters, and SQL gets every message it was promised.
  if archive and backlogMax > 0 and redis.call('XLEN', archiveKey) >= backlogMax then
    return backlogFull()
  end
  local team = head(t)
  if not team then return refused('the seq counter is not a number') end
  local epoch = team[1]
  local seq = team[2] + 1
  -- Made once, and with %d: tostring's %.14g (sprintf of a double) took about three
  -- times as long.
  local seqText = string.format('%d', seq)
  local json = messageJson(jsonHead, seqText, tail)
  local queued = false
  if archive then
    queued = redis.call('XADD', archiveKey, '*', BACKLOG_EPOCH, epoch, BACKLOG_JSON, json)
  end
  local logKey = K[t * S + 2]
  local added
  -- The entry id is <seq>-0: XADD reads an id without its sequence part as -0, so
  -- no string is made for it.
  if origin == '' then
    added = redis.pcall('XADD', logKey, 'MAXLEN', retain, seqText, LOG_JSON, json)
  else
    added = redis.pcall(
      'XADD', logKey, 'MAXLEN', retain, seqText, LOG_JSON, json, LOG_ORIGIN, origin)
  end
  if type(added) == 'table' and added.err then
    if queued then redis.call('XDEL', archiveKey, queued) end
    return refused(added.err)
  end
  team[2] = seq
  team[3] = seqText
  if refKey then
    redis.call('SET', refKey, refRecord(messageId(jsonHead), seqText), 'EX', refTtl)
  end
  addEntry(team[4], seqText, routing, jsonHead, tail)
  return published(seqText)
end
-- GROUPED: a team whose slot this master does not serve as a whole now is left for
-- its slot's own call (GROUPED_LUA), before anything of it is written.
local elsewhere = {}
if O > 0 then elsewhere = notServedHere(K, S, teamCount) end
local out = {}
-- Ref keys taken so far: counted here, outside the pcall, so a message that fails
-- still takes its own.
local refs = 0
for i = 0, (#ARGV - FIRST_MESSAGE) / PER_MESSAGE - 1 do
  local a = FIRST_MESSAGE + i * PER_MESSAGE
  local t = tonumber(ARGV[a + 1])
  local refKey = false
  if t < 0 then
    t = -1 - t
    refs = refs + 1
    refKey = K[REFS + refs]
  end
  local ok, result = true, notHere()
  if not elsewhere[t] then ok, result = pcall(publish, a, t, refKey) end
  if ok then
    out[i + 1] = result
  else
    out[i + 1] = refused(type(result) == 'table' and result.err or tostring(result))
  end
end
for t, team in pairs(heads) do
  if team[3] then
    local k = t * S
    redis.call('SET', K[k + 1], team[3], 'EX', ttl)
    redis.call('EXPIRE', K[k + 2], ttl)
    redis.call('EXPIRE', K[k + 3], ttl)
    redis.call(publishCommand, ARGV[TEAMS + t * 3 + 1], teamPayload(team[1], team[4]))
  end
end
return replyOf(out)
`;

/**
 * PUBLISH_BATCH as one node sends it: its text ends with a comment naming the node,
 * so its hash is that node's alone. After a SCRIPT FLUSH another node's EVAL then
 * cannot load it between two of this node's calls, and a NOSCRIPT for one call means
 * NOSCRIPT for every call written behind it (SocketScript). Redis caches one copy
 * per node id (NODE_ID; by default host name and pid, so one more per restart).
 */
export function publishScriptFor(nodeId: string): string {
  return `${PUBLISH_BATCH}-- publisher ${oneLine(nodeId)}\n`;
}

/**
 * publishScriptFor for a call to a whole Redis Cluster master (GROUPED_LUA): the same
 * script, declared cross-slot (Redis 7). Not used for the other calls: a script with
 * flags is refused whole under maxmemory, where one without refuses only its first
 * write, per message.
 */
export function publishGroupedScriptFor(nodeId: string): string {
  return `#!lua flags=allow-cross-slot-keys\n${publishScriptFor(nodeId)}`;
}

/**
 * KEYS: seq, epoch, log, epoch floor. ARGV: ttl s. Returns {seq, epoch}; a team
 * without both keys gets them here (see TEAM_HEAD), so the epoch a welcome names is
 * the one the team's next message is published in.
 */
const HEAD = `${TEAM_HEAD}
local epoch, last = teamHead(KEYS[1], KEYS[3], KEYS[2], KEYS[4], ARGV[1])
return {last, epoch}
`;

/** A refused command's words, from what pcall caught: the first line only. */
const ERROR_TEXT = `
local function errorText(err)
  if type(err) == 'table' and err.err then return err.err end
  return tostring(err)
end
`;

/**
 * HEAD for many teams in one call: the joins of one event-loop turn read their
 * teams' heads together (team-heads.ts). KEYS: per team as HEAD. ARGV: ttl s.
 * Returns per team {seq, epoch}, or the error's text when Redis refused one of its
 * commands (the other teams are still read).
 */
const HEADS = `${TEAM_HEAD}${ERROR_TEXT}
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local k = i * 4
  local ok, epoch, last = pcall(teamHead, KEYS[k + 1], KEYS[k + 3], KEYS[k + 2], KEYS[k + 4], ARGV[1])
  if ok then out[i + 1] = {last, epoch} else out[i + 1] = errorText(epoch) end
end
return out
`;

/**
 * A node that delivered the team's messages up to a seq finds Redis's counter below
 * it in the same epoch: Redis went back in time (a crash with `appendfsync everysec`
 * reloads an AOF that lacks the last writes, or a failover to a replica that lagged).
 * Those seqs would be handed out again to other messages, which every node drops as
 * duplicates: a silent loss. So the team starts a new epoch, if nobody did already.
 * KEYS as HEAD. ARGV: the epoch and seq the node knows, ttl s. Returns {seq, epoch}.
 */
const REWOUND = `${TEAM_HEAD}
local epoch = redis.call('GET', KEYS[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '')
if epoch == ARGV[1] and last ~= nil and last < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
end
local current, seq = teamHead(KEYS[1], KEYS[3], KEYS[2], KEYS[4], ARGV[3])
return {seq, current}
`;

/**
 * A team's presence, in the team's slot: the user counts follow the team's set of
 * connIds in one step. On Redis Cluster the cluster-wide indexes (conns, connIndex,
 * liveTeams, nodes, nodeConns) live in other slots and are written before the call
 * with single-key commands (presence.ts); on one Redis the call writes them first
 * itself: five commands and a round trip less per turn of joins. One call takes
 * every add of an event-loop turn (on Redis Cluster: of one slot), each its own step
 * in order, so two connections of one user in a call count 1 then 2.
 * A connection that comes with a join event has it published here when it is its
 * user's first in the team, once the entry is written: the join costs no command or
 * round trip of its own, and nobody hears it before the entry can be read.
 * KEYS: with the indexes, nodes, nodeConns, conns, connIndex, liveTeams; then per
 * connection teamConns, teamUsers. ARGV: '1' to SPUBLISH (Redis Cluster: the team's
 * channel is in the team's slot) or '0' to PUBLISH; the node id with the indexes, ''
 * without; then per connection connId, userId, teamId, the team's channel, the join's
 * payload ('' for none), the connection's info JSON ('' without the indexes).
 * Returns per connection the user's connection count in the team after adding, 0
 * if it was already present, or the error's text when Redis refused a command.
 */
const PRESENCE_ADD = `${ERROR_TEXT}
local publishCommand = ARGV[1] == '1' and 'SPUBLISH' or 'PUBLISH'
local node = ARGV[2]
local PER_CONN = 6
local conns = (#ARGV - 2) / PER_CONN
-- Variadic commands, in chunks a Lua call can unpack (an even count: pairs stay whole).
local function inChunks(command, key, args)
  for i = 1, #args, 4000 do
    redis.call(command, key, unpack(args, i, math.min(i + 3999, #args)))
  end
end
local TEAMS = 0
if node ~= '' then
  TEAMS = 5
  local ids, infos, index, teams = {}, {}, {}, {}
  for c = 0, conns - 1 do
    local a = 2 + c * PER_CONN
    ids[#ids + 1] = ARGV[a + 1]
    infos[#infos + 1] = ARGV[a + 1]
    infos[#infos + 1] = ARGV[a + 6]
    index[#index + 1] = 0
    index[#index + 1] = ARGV[a + 1]
    teams[#teams + 1] = ARGV[a + 3]
  end
  redis.call('SADD', KEYS[1], node)
  inChunks('SADD', KEYS[2], ids)
  inChunks('HSET', KEYS[3], infos)
  inChunks('ZADD', KEYS[4], index)
  inChunks('SADD', KEYS[5], teams)
end
local function add(teamConns, users, connId, userId, channel, join)
  if redis.call('ZADD', teamConns, 0, connId) == 0 then return 0 end
  local count = redis.call('HINCRBY', users, userId, 1)
  if count == 1 and join ~= '' then redis.call(publishCommand, channel, join) end
  return count
end
local out = {}
for c = 0, conns - 1 do
  local a = 2 + c * PER_CONN
  local k = TEAMS + c * 2
  local ok, count = pcall(add, KEYS[k + 1], KEYS[k + 2], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4],
    ARGV[a + 5])
  if ok then out[#out + 1] = count else out[#out + 1] = errorText(count) end
end
return out
`;

/**
 * Team records of one event-loop turn (store.ts): KEYS[1] the teams hash; ARGV per
 * team its id and the record to write if it has none. Returns per team 1 when
 * written, else the record it had (the first of two equal ids in a call writes).
 */
const TEAMS_PUT = `
local out = {}
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    out[#out + 1] = 1
  else
    out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  end
end
return out
`;

/**
 * HEADS, PRESENCE_ADD and TEAMS_PUT as the join path sends them itself (SocketScript, not
 * defineCommand: see TurnWrites), named for the node like the publish script, so
 * no other client loads their hash between a NOSCRIPT and the resends it causes.
 */
export function headsScriptFor(nodeId: string): string {
  return `${HEADS}-- heads ${oneLine(nodeId)}\n`;
}

export function teamsPutScriptFor(nodeId: string): string {
  return `${TEAMS_PUT}-- teams ${oneLine(nodeId)}\n`;
}

export function presenceAddScriptFor(nodeId: string): string {
  return `${PRESENCE_ADD}-- presence ${oneLine(nodeId)}\n`;
}

/** A Lua comment ends at the line's end: the id is kept on one line. */
function oneLine(nodeId: string): string {
  return nodeId.replace(/[\r\n]/g, ' ');
}

/**
 * KEYS as PRESENCE_ADD, for removes; ARGV per connection connId, userId. Returns per connection {the user's
 * connection count left in the team (-1 if the connection was unknown), 1 when the
 * team has no connection left}, or the error's text.
 */
const PRESENCE_REMOVE = `${ERROR_TEXT}
local function remove(conns, users, connId, userId)
  local empty = 0
  if redis.call('ZREM', conns, connId) == 0 then
    if redis.call('EXISTS', conns) == 0 then empty = 1 end
    return {-1, empty}
  end
  local left = redis.call('HINCRBY', users, userId, -1)
  if left <= 0 then
    redis.call('HDEL', users, userId)
    left = 0
  end
  if redis.call('EXISTS', conns) == 0 then
    redis.call('DEL', users)
    empty = 1
  end
  return {left, empty}
end
local out = {}
for i = 1, #KEYS, 2 do
  local ok, result = pcall(remove, KEYS[i], KEYS[i + 1], ARGV[i], ARGV[i + 1])
  if ok then out[#out + 1] = result else out[#out + 1] = errorText(result) end
end
return out
`;

/**
 * Sets dead letters aside, each once: a draft whose message already has its mark
 * (`KEYS[1 + i]`, in the stream's slot) is skipped, so running the same call twice
 * (a cluster client sending it again after its connection closed unanswered, or a
 * node that crashed before acking the batch it had set aside) records one dead letter.
 * KEYS: the stream, then one mark per draft. ARGV: the cap, the marks' TTL in seconds,
 * then one body per draft. Returns how many of the oldest the cap dropped.
 */
const DEAD_LETTERS_ADD = `
local before = redis.call('XLEN', KEYS[1])
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[2]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[1], '*', 'd', ARGV[i + 1])
    added = added + 1
  end
end
local dropped = before + added - redis.call('XLEN', KEYS[1])
if dropped < 0 then return 0 end
return dropped
`;

type Arg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext = { type: 'default' }> {
    sbHead(...args: Arg[]): Result<[string, string], Context>;
    sbRewound(...args: Arg[]): Result<[string, string], Context>;
    sbPresenceRemove(...args: Arg[]): Result<([number, number] | string)[], Context>;
    /** numkeys first: one key per dead letter besides the stream. */
    sbDeadLettersAdd(...args: Arg[]): Result<number, Context>;
  }
}

/** Registers every script on a client; safe to call more than once. */
export function defineScripts(redis: RedisClient): void {
  redis.defineCommand('sbHead', { numberOfKeys: 4, lua: HEAD });
  redis.defineCommand('sbRewound', { numberOfKeys: 4, lua: REWOUND });
  redis.defineCommand('sbPresenceRemove', { lua: PRESENCE_REMOVE });
  redis.defineCommand('sbDeadLettersAdd', { lua: DEAD_LETTERS_ADD });
}
