import { Writable } from 'node:stream';
import pino from 'pino';
import { reconnectDelay } from '../../services/backoff';
import { createRedisClient, LONG_OUTAGE_ATTEMPTS } from '../../services/redis/connection';
import { redisCheck } from '../../services/redis/health';
import { RedisKeys } from '../../services/redis/keys';
import { eventually } from '../helpers/eventually';
import { redisBus } from '../helpers/redis-bus';
import { describeWithRedis, freePort, useRedisServer } from '../helpers/redis-server';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

describe('reconnectDelay', () => {
  test('backs off exponentially from 100 ms to a 5 s cap, with jitter in the upper half', () => {
    expect(reconnectDelay(1, () => 0)).toBe(50);
    expect(reconnectDelay(1, () => 1)).toBe(100);
    expect(reconnectDelay(2, () => 1)).toBe(200);
    expect(reconnectDelay(5, () => 1)).toBe(1600);
    for (const times of [7, 20, 1000]) {
      expect(reconnectDelay(times, () => 1)).toBe(5000);
      expect(reconnectDelay(times, () => 0)).toBe(2500);
    }
  });

  test('never returns the old fixed 3 s floor for early attempts', () => {
    for (let t = 1; t <= 4; t++) expect(reconnectDelay(t)).toBeLessThan(3000);
  });
});

describe('a client pointed at a closed port', () => {
  test('logs the outage once, not per attempt, and keeps retrying', async () => {
    const { log, lines } = capture();
    const port = await freePort();
    // disconnect() while reconnecting arms ioredis's timer to destroy the connection,
    // which is gone already: nothing clears it, and a 2 s one held the jest worker up
    // past its exit (see close-client.ts). With 0 it runs out at once.
    const client = createRedisClient(
      { kind: 'single', url: `redis://127.0.0.1:${port}` },
      'command',
      log,
      { disconnectTimeout: 0 },
    );
    let reconnects = 0;
    client.on('reconnecting', () => reconnects++);
    // Several attempts happen (100, 200, 400 ms ...); the log says it once.
    await eventually(() => reconnects >= 3);
    const outages = lines.filter((l) => l['msg'] === 'redis unavailable');
    expect(outages).toHaveLength(1);
    expect(outages[0]).toMatchObject({ role: 'command', err: { code: 'ECONNREFUSED' } });
    await expect(client.get('x')).rejects.toThrow();
    client.disconnect();
  });

  test(`reports a long run of failures once, at attempt ${LONG_OUTAGE_ATTEMPTS}`, () => {
    const { log, lines } = capture();
    const client = createRedisClient(
      { kind: 'single', url: 'redis://127.0.0.1:1' },
      'command',
      log,
      { lazyConnect: true },
    );
    const strategy = client.options.retryStrategy!;
    for (let t = 1; t <= LONG_OUTAGE_ATTEMPTS + 5; t++) strategy(t);
    expect(lines.filter((l) => l['msg'] === 'redis still unreachable; retrying')).toHaveLength(1);
    client.disconnect();
  });
});

describeWithRedis('readiness canary', () => {
  const redis = useRedisServer();

  test('a subscriber that silently stopped receiving is caught', async () => {
    const { bus, cmd, sub, keys } = await redisBus(redis, {
      keys: new RedisKeys('canary:'),
      nodeId: 'n',
      retain: 10,
    });
    const check = redisCheck(cmd, sub, bus, { registered: true });
    expect(await eventually(async () => (await check()) === 'up')).toBe(true);
    // Connections and canary fine, but this node's presence is not registered: not ready.
    expect(await redisCheck(cmd, sub, bus, { registered: false })()).toBe('down');
    // Both connections still look healthy, but nothing reaches the subscriber any more.
    await sub.unsubscribe(keys.nodeChannel('n'));
    expect(cmd.status).toBe('ready');
    expect(sub.status).toBe('ready');
    expect(await check()).toBe('down');
    await bus.close();
  });

  test('a publish connection that is not ready makes Redis down', async () => {
    const { bus, cmd, sub } = await redisBus(redis, {
      keys: new RedisKeys('canary-publisher:'),
      nodeId: 'p',
      retain: 10,
    });
    const publisher = await redis.client('publisher');
    const check = redisCheck(cmd, sub, bus, { registered: true }, publisher);
    expect(await eventually(async () => (await check()) === 'up')).toBe(true);
    publisher.disconnect();
    expect(await eventually(async () => (await check()) === 'down')).toBe(true);
    expect(publisher.status).toBe('end');
    await bus.close();
  });
});
