import type { Redis } from 'ioredis';
import pino from 'pino';
import { AppError } from '../../services/errors';
import { execAll, redisCall } from '../../services/redis/call';
import { RedisClients } from '../helpers/redis-clients';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';

describe('redisCall', () => {
  test('gives the work its answer', async () => {
    await expect(redisCall(async () => 42)).resolves.toBe(42);
  });

  test('any failure, even one after the reply came, is unavailable with its cause', async () => {
    const cause = new Error('ECONNRESET');
    await expect(redisCall(() => Promise.reject(cause))).rejects.toMatchObject({
      code: 'unavailable',
      message: 'message backend unavailable; retry',
      cause,
    });
    const parsed = redisCall(async () => JSON.parse('{not json') as unknown);
    await expect(parsed).rejects.toMatchObject({ code: 'unavailable' });
  });

  test('our own errors pass as they are', async () => {
    const own = new AppError('conflict', 'taken');
    await expect(redisCall(() => Promise.reject(own))).rejects.toBe(own);
  });

  test('onFailure runs first, and an error it throws is the one the caller gets', async () => {
    const seen: unknown[] = [];
    const cause = new Error('down');
    await expect(
      redisCall(
        () => Promise.reject(cause),
        (err) => seen.push(err),
      ),
    ).rejects.toMatchObject({ code: 'unavailable', cause });
    expect(seen).toEqual([cause]);
    const precise = redisCall(
      () => Promise.reject(cause),
      () => {
        throw new AppError('bad_request', 'malformed cursor');
      },
    );
    await expect(precise).rejects.toMatchObject({ code: 'bad_request' });
  });

  test('onFailure is not called when the work succeeds', async () => {
    let called = false;
    await redisCall(
      async () => 1,
      () => {
        called = true;
      },
    );
    expect(called).toBe(false);
  });
});

describeWithRedis('execAll', () => {
  const clients = new RedisClients(() => server.url, pino({ level: 'silent' }));
  let server: RedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = await clients.open('command');
  });
  afterAll(async () => {
    await clients.closeAll();
    await server.stop();
  });

  test('gives the replies in order', async () => {
    await expect(execAll(redis.multi().set('a', '1').get('a').incr('a'))).resolves.toEqual([
      'OK',
      '1',
      2,
    ]);
  });

  test("throws a command's error reply, though exec reported it beside the others", async () => {
    await redis.set('text', 'not a number');
    await expect(execAll(redis.multi().get('text').incr('text'))).rejects.toThrow(/not an integer/);
  });

  test('throws for a transaction WATCH aborted', async () => {
    const other = await clients.open('other');
    await redis.watch('watched');
    await other.set('watched', 'changed');
    await expect(execAll(redis.multi().get('watched'))).rejects.toThrow('transaction aborted');
  });
});
