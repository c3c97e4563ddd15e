import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { reconnectDelay } from '../backoff';
import { RestartingRedis } from './restarting-redis';
import { refreshSlotMapEvery } from './slot-map-refresh';
import type { RedisTarget } from './target';

/** A client of one Redis or of a Redis Cluster: the services use what both offer. */
export type RedisClient = Redis | Cluster;

/** Settings a Redis Cluster client takes besides its per-node ones. */
export interface ClusterExtra {
  /**
   * SSUBSCRIBE support: a subscriber connection to every master, opened at once
   * (default true). A client that never subscribes does without.
   */
  shardedSubscribers?: boolean;
}

/** One Redis, or the master a Sentinel group names: never a Redis Cluster. */
type SingleTarget = Exclude<RedisTarget, { kind: 'cluster' }>;

/** Resolves when the client is ready or after `timeoutMs`, whichever comes first; never throws. */
export function waitReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
  });
}

/** Attempts after which a still-failing connection is reported as a long outage. */
export const LONG_OUTAGE_ATTEMPTS = 20;

/** How long a command waits for its answer unless the caller says otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * A Redis client for this server. Commands fail at once while disconnected (no
 * offline queue, no resend of unanswered commands), so a send is answered
 * `unavailable` instead of waiting, and one that got no answer is never applied
 * twice (it is answered `indeterminate`; on a cluster, see sendKnowingOutcome); the
 * client keeps reconnecting on its own.
 * State changes are logged once each, not per attempt.
 */
export function createRedisClient(
  target: string | SingleTarget,
  role: string,
  log: Logger,
  extra?: RedisOptions,
): Redis;
export function createRedisClient(
  target: RedisTarget,
  role: string,
  log: Logger,
  extra?: RedisOptions,
  cluster?: ClusterExtra,
): RedisClient;
export function createRedisClient(
  target: string | RedisTarget,
  role: string,
  log: Logger,
  extra: RedisOptions = {},
  cluster: ClusterExtra = {},
): RedisClient {
  let attempts = 0;
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  const retryStrategy = (times: number) => {
    attempts = times;
    if (times === LONG_OUTAGE_ATTEMPTS)
      log.error({ role, attempts: times }, 'redis still unreachable; retrying');
    return reconnectDelay(times);
  };
  const options: RedisOptions = {
    lazyConnect: false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeout: 5000,
    retryStrategy,
    ...extra,
  };
  const client = connect(
    typeof target === 'string' ? { kind: 'single', url: target } : target,
    options,
    retryStrategy,
    cluster,
  );
  client.on('ready', () => {
    if (state !== 'up') log.info({ role, after: attempts }, 'redis connected');
    state = 'up';
    attempts = 0;
  });
  client.on('error', (err: Error) => {
    if (state === 'down') return;
    state = 'down';
    log.warn(
      { role, err: { message: err.message, code: (err as { code?: string }).code } },
      'redis unavailable',
    );
  });
  // A connection the server closed (CLIENT KILL, output-buffer limits, a restart) is not
  // an 'error': without this a dropped subscriber would go unnoticed in the logs.
  client.on('reconnecting', () => {
    if (state !== 'up') return;
    state = 'down';
    log.warn({ role }, 'redis connection lost; reconnecting');
  });
  client.on('end', () => {
    state = 'down';
  });
  if (client instanceof RestartingRedis) keepConnecting(client, role, log);
  return client;
}

/**
 * Starts a client again that ioredis ended by itself (see RestartingRedis): without
 * this a Sentinel failover could leave the subscriber ended for good, and the node
 * unready until restarted. An end its owner asked for (quit, disconnect) follows a
 * close, or comes with `stopped`; one straight from connecting, without either, is
 * the connector giving up.
 */
function keepConnecting(client: RestartingRedis, role: string, log: Logger): void {
  let closedSinceConnecting = false;
  let restarts = 0;
  client.on('connecting', () => {
    closedSinceConnecting = false;
  });
  client.on('close', () => {
    closedSinceConnecting = true;
  });
  client.on('ready', () => {
    restarts = 0;
  });
  client.on('end', () => {
    if (closedSinceConnecting || client.stopped) return;
    // A warning, as a lost connection is: it heals by itself, and a Sentinel failover
    // makes it whenever the announcement lands while the connector asks a sentinel.
    restarts++;
    log.warn({ role, restarts }, 'redis client gave up connecting; starting it again');
    const timer = setTimeout(() => {
      if (client.stopped || client.status !== 'end') return;
      client.connect().catch(() => undefined);
    }, reconnectDelay(restarts));
    timer.unref();
  });
}

function connect(
  target: RedisTarget,
  options: RedisOptions,
  retryStrategy: (times: number) => number,
  clusterExtra: ClusterExtra,
): RedisClient {
  switch (target.kind) {
    case 'single':
      return new RestartingRedis(
        target.url,
        target.password === undefined ? options : { ...options, password: target.password },
      );
    case 'sentinel':
      return new RestartingRedis({
        ...options,
        retryStrategy,
        sentinels: target.sentinels,
        name: target.name,
        ...(target.password === undefined ? {} : { password: target.password }),
        ...(target.sentinelPassword === undefined
          ? {}
          : { sentinelPassword: target.sentinelPassword }),
        ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
        // Also drop the connection when a sentinel announces a new master, not only
        // when the old one stops answering: a master demoted alive would refuse writes.
        failoverDetector: true,
        // A connection made while a sentinel still named the old master (restarted, then
        // made a replica) only learns it from READONLY: ask the sentinels again. The
        // command is refused, not resent: it did not run, and nothing is sent twice.
        reconnectOnError: (err) => (err.message.includes('READONLY') ? 1 : false),
      });
    case 'cluster': {
      const { enableOfflineQueue, ...perNode } = options;
      const cluster = new Cluster(target.nodes, {
        // The per-node connections reconnect through the cluster, which re-reads the
        // slot map first: a node may have left or handed its slots on meanwhile.
        redisOptions: {
          ...withoutRetry(perNode),
          ...(target.password === undefined ? {} : { password: target.password }),
          ...(target.tls ? { tls: {} } : {}),
        },
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: enableOfflineQueue ?? false,
        enableReadyCheck: true,
        // SSUBSCRIBE goes to the master of each channel's slot, one connection per master.
        shardedSubscribers: clusterExtra.shardedSubscribers ?? true,
        // A slot on the move answers MOVED/ASK/TRYAGAIN: the command is sent on, not failed.
        retryDelayOnMoved: 0,
        retryDelayOnTryAgain: 50,
        retryDelayOnClusterDown: 100,
        // When a node's connection closes, ioredis sends its commands again after
        // retryDelayOnFailover (default 100 ms), the written and unanswered ones too.
        // Kept, for commands not yet written; sendKnowingOutcome (send.ts) fails a
        // written one `indeterminate` instead, so a publish never runs twice. Other
        // commands (reads, presence, store writes) are still sent again.
        // A subscriber never hears MOVED: only a fresh slot map tells it that a shard
        // channel's slot has a new owner to subscribe on. So the map is read every
        // second, by refreshSlotMapEvery rather than ioredis's slotsRefreshInterval,
        // whose timer can outlive quit() and keep the process from exiting.
        slotsRefreshInterval: 0,
      });
      refreshSlotMapEvery(cluster, 1000);
      return cluster;
    }
  }
}

/** Cluster node options may not carry a retryStrategy: the cluster retries (clusterRetryStrategy). */
function withoutRetry(options: RedisOptions): Omit<RedisOptions, 'retryStrategy'> {
  const { retryStrategy: _ignored, ...rest } = options;
  return rest;
}
