import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { reconnectDelay } from '../backoff';
import type { RedisTarget } from './target';

/** Resolves when the client is ready or after `timeoutMs`, whichever comes first; never throws. */
export function waitReady(client: Redis, timeoutMs: number): Promise<boolean> {
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
 * twice (it is answered `indeterminate`); the client keeps reconnecting on its own.
 * State changes are logged once each, not per attempt.
 */
export function createRedisClient(
  target: RedisTarget,
  role: string,
  log: Logger,
  extra: RedisOptions = {},
): Redis {
  let attempts = 0;
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  const options: RedisOptions = {
    lazyConnect: false,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeout: 5000,
    retryStrategy: (times) => {
      attempts = times;
      if (times === LONG_OUTAGE_ATTEMPTS)
        log.error({ role, attempts: times }, 'redis still unreachable; retrying');
      return reconnectDelay(times);
    },
    ...extra,
  };
  const client = connect(target, options);
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
  return client;
}

function connect(target: RedisTarget, options: RedisOptions): Redis {
  switch (target.kind) {
    case 'single':
      return new Redis(
        target.url,
        target.password === undefined ? options : { ...options, password: target.password },
      );
    case 'sentinel':
      return new Redis({
        ...options,
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
  }
}
