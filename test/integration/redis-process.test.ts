import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';

/** One short-lived connection per step, so a kill in between leaves nothing retrying. */
async function withClient<T>(server: RedisServer, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

describeWithRedis('support/redis-process', () => {
  const servers: RedisServer[] = [];
  const dirs: string[] = [];

  afterAll(async () => {
    for (const server of servers) await server.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function start(options: Parameters<typeof RedisServer.start>[0] = {}) {
    const server = await RedisServer.start(options);
    servers.push(server);
    return server;
  }

  it('comes back empty after kill -9 and restart without persistence', async () => {
    const server = await start();
    await withClient(server, (r) => r.set('k', 'v'));
    await server.kill();
    await server.restart();
    expect(await withClient(server, (r) => r.get('k'))).toBeNull();
  });

  it('keeps what it acknowledged across kill -9 with aofDir, on the same port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-aof-'));
    dirs.push(dir);
    const server = await start({ aofDir: dir });
    await withClient(server, (r) => r.set('k', 'v'));
    await server.kill();
    await server.restart();
    expect(await withClient(server, (r) => r.get('k'))).toBe('v');
  });

  it('passes extra arguments to redis-server', async () => {
    const server = await start({ args: ['--maxmemory', '7mb'] });
    expect(await withClient(server, (r) => r.config('GET', 'maxmemory'))).toEqual([
      'maxmemory',
      String(7 * 1024 * 1024),
    ]);
  });
});
