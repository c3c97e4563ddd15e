import type { Logger } from 'pino';
import { RedisBans } from '../services/redis/bans';
import { RedisBus } from '../services/redis/bus';
import { closeRedisClient } from '../services/redis/close-client';
import { createRedisClient, waitReady } from '../services/redis/connection';
import { warnIfEvicting } from '../services/redis/eviction-check';
import { redisCheck } from '../services/redis/health';
import { RedisHistory } from '../services/redis/history';
import { TurnWrites } from '../services/redis/turn-writes';
import { RedisKeys } from '../services/redis/keys';
import { RedisNodeStats } from '../services/redis/node-stats';
import { RedisPresence } from '../services/redis/presence';
import { RedisBacklog } from '../services/redis/backlog';
import { RedisSlotBacklog } from '../services/redis/slot-backlog';
import { RedisDeadLetters } from '../services/redis/dead-letters';
import { RedisStore } from '../services/redis/store';
import type { Config, RedisConfig } from './config';
import type { SqlParts } from './sql-setup';
import { closeEngine, IDEMPOTENCY_TTL_MS, type Engine } from './engine';

/** Bans are rare and small: a read of all of them every 10 s costs nothing. */
const BANS_REFRESH_MS = 10_000;

/**
 * The Redis engine: one connection for commands, one for subscriptions (a
 * subscribed connection can run nothing else), and with replicated acks one for
 * publishes (on Redis Cluster, a cluster client each). Services get the clients; this
 * factory owns them and quits them last. With `sql` (the SQL Server store), teams
 * and the archive live there and the archive's backlog is a Redis stream (one per
 * hash slot in use on Redis Cluster).
 */
export async function createRedisEngine(
  config: { redis: RedisConfig } & Pick<Config, 'node' | 'history' | 'archive'>,
  log: Logger,
  sql?: SqlParts,
): Promise<Engine> {
  const { redis, archive } = config;
  const nodeId = config.node.id;
  const cmd = createRedisClient(redis.target, 'command', log, {
    commandTimeout: redis.commandTimeoutMs,
    // Commands issued in one turn leave in one write: a join storm issues several per
    // connection (presence, history head, the team record), one syscall each without it.
    enableAutoPipelining: true,
  });
  // Subscriptions queue while connecting; ioredis re-subscribes after every reconnect.
  // No command timeout: under a flood of deliveries a SUBSCRIBE reply can wait, and that is fine.
  const sub = createRedisClient(redis.target, 'subscriber', log, {
    enableOfflineQueue: true,
    commandTimeout: undefined,
  });
  // With replicated acks a publish batch's WAIT blocks its connection until the replicas
  // answer (up to REDIS_ACK_TIMEOUT_MS): publishes get a client of their own, so that
  // presence, bans and history reads never queue behind it. On Redis Cluster that is a
  // second cluster client (one connection per master), whose WAIT goes to its own
  // connection to the master that ran the script (waitOnWritingConnection).
  const publisher =
    redis.ackReplicas > 0
      ? createRedisClient(
          redis.target,
          'publisher',
          log,
          { commandTimeout: redis.commandTimeoutMs },
          // It never subscribes: no subscriber connections per master for it.
          { shardedSubscribers: false },
        )
      : undefined;
  const keys = new RedisKeys(redis.keyPrefix);
  // A turn's head reads and presence adds leave in one write to Redis.
  const turn = new TurnWrites(cmd);
  // Redis Cluster: one backlog stream per slot (the publish script stays in its team's
  // slot), read without a blocking connection; one Redis: one stream, read blocking.
  const slotBacklog = sql && cmd.isCluster ? new RedisSlotBacklog(cmd, keys, nodeId) : undefined;
  const bus = new RedisBus(cmd, sub, keys, {
    nodeId,
    retain: config.history.size,
    ttlSeconds: redis.historyTtlSeconds,
    idempotencyTtlSeconds: IDEMPOTENCY_TTL_MS / 1000,
    archive: sql !== undefined,
    archiveBacklogMax: archive.backlogMax,
    ...(slotBacklog ? { onArchived: (stream: string) => slotBacklog.wrote(stream) } : {}),
    ackReplicas: redis.ackReplicas,
    ackTimeoutMs: redis.ackTimeoutMs,
    ...(publisher ? { publisher } : {}),
    turn,
    log,
  });
  const redisHistory = new RedisHistory(cmd, keys, {
    ttlSeconds: redis.historyTtlSeconds,
    nodeId,
    turn,
  });
  const history = sql ? sql.history(redisHistory) : redisHistory;
  const presence = new RedisPresence(cmd, keys, {
    nodeId,
    leaseMs: redis.presenceLeaseMs,
    announce: (event) => bus.emit(event),
    turn,
    log,
  });
  const store = sql?.store ?? new RedisStore(cmd, keys, { nodeId, turn });
  const bans = new RedisBans(cmd, keys, {
    refreshMs: BANS_REFRESH_MS,
    onRefreshError: (err) => log.warn({ err }, 'reading bans failed; retried'),
  });
  // Registered before the hub (createApp), so a node knows of a ban before it closes sockets.
  bus.listen({ message: () => undefined, gap: () => undefined, event: (e) => bans.observe(e) });
  // Pub/sub drops what is published while the subscriber is away: read them all again.
  // (The bans reread on the command connection's own 'ready' too: it may come later.)
  sub.on('ready', () => void bans.refresh());
  // XREADGROUP BLOCK holds a connection, so the archiver gets one of its own.
  // Its reads block for up to ARCHIVE_FLUSH_MS, so its command timeout starts after that.
  const blocking =
    sql && !slotBacklog
      ? createRedisClient(redis.target, 'archive', log, {
          commandTimeout: archive.flushMs + redis.commandTimeoutMs,
        })
      : undefined;
  const backlog =
    slotBacklog ?? (blocking ? new RedisBacklog(cmd, blocking, keys, nodeId) : undefined);
  const deadLetters = new RedisDeadLetters(cmd, keys, archive.deadLettersMax);
  // A node may start while Redis is down: it reports not ready and serves once Redis is back.
  const [ready] = await Promise.all([
    waitReady(cmd, 5000),
    waitReady(sub, 5000),
    ...(publisher ? [waitReady(publisher, 5000)] : []),
  ]);
  if (!ready) log.warn('starting without Redis; /api/ready stays 503 until it is reachable');
  if (ready) await warnIfEvicting(cmd, log);
  else cmd.once('ready', () => void warnIfEvicting(cmd, log));
  await presence.start();
  await bans.start();
  if (sql && backlog) {
    await backlog
      .start()
      .catch((err: unknown) => log.warn({ err }, 'archive backlog not read yet; retried'));
    sql.startArchiver(backlog, deadLetters);
  }
  return {
    bus,
    history,
    presence,
    store,
    bans,
    health: {
      redis: redisCheck(cmd, sub, bus, presence, publisher),
      db: sql ? () => sql.check() : async () => 'disabled',
    },
    backlogLength: async () => (backlog ? backlog.length().catch(() => -1) : 0),
    deadLetters,
    deadLetterCounts: () => sql?.deadLetterCounts() ?? { added: 0, dropped: 0 },
    nodeStats: new RedisNodeStats(cmd, keys),
    close: () =>
      closeEngine(sql, [presence, bans, bus, store], async () => {
        const clients = [
          cmd,
          sub,
          ...(publisher ? [publisher] : []),
          ...(blocking ? [blocking] : []),
        ];
        await Promise.all(clients.map(closeRedisClient));
      }),
  };
}
