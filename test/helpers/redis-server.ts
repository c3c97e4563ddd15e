import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { RedisServer, redisServerAvailable } from '../../support/redis-process';
import { RedisClients } from './redis-clients';

export { freePort } from '../../support/free-port';
export { RedisServer, redisServerAvailable } from '../../support/redis-process';

/**
 * `describe` for suites that need a real Redis. Without `redis-server` the suite
 * is skipped with a plain note, except under CI=true, where it runs and fails:
 * CI must never pass by skipping the Redis tests.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerAvailable() || process.env['CI'] === 'true') {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `SKIPPED "${name}": redis-server is not installed (CI=true makes this a failure)\n`,
  );
  describe.skip(name, body);
}

export interface SuiteRedis {
  /** The block's redis-server (there once its beforeAll has run). */
  readonly server: RedisServer;
  /** Clients made the way the engine makes them, all closed after the block. */
  client(role: string, subscriber?: boolean): Promise<Redis>;
}

/**
 * For a describe block: a redis-server of its own, started before its tests, and
 * stopped after them once every client from `client` is closed.
 */
export function useRedisServer(log: Logger = pino({ level: 'silent' })): SuiteRedis {
  let server: RedisServer | undefined;
  const started = (): RedisServer => {
    if (!server) throw new Error('used outside the tests of its describe block');
    return server;
  };
  const clients = new RedisClients(() => started().url, log);

  beforeAll(async () => {
    server = await RedisServer.start();
  });

  afterAll(async () => {
    await clients.closeAll();
    await server?.stop();
  });

  return {
    get server() {
      return started();
    },
    client: (role, subscriber = false) => clients.open(role, subscriber),
  };
}
