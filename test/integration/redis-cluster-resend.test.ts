import pino from 'pino';
import { AppError } from '../../services/errors';
import { createRedisClient, waitReady, type RedisClient } from '../../services/redis/connection';
import { sendKnowingOutcome } from '../../services/redis/send';
import { hashSlot } from '../../services/redis/slot';
import { RedisCluster } from '../../support/redis-cluster';
import { eventually } from '../helpers/eventually';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * ioredis's Cluster sends a command on when its connection closes before the answer
 * (`retryDelayOnFailover`), though Redis may have run it: a write that may have run
 * must be answered `indeterminate`, never run a second time.
 */
describeWithRedis('a written, unanswered command on Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: RedisClient;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    client = createRedisClient(
      { kind: 'cluster', nodes: cluster.endpoints, tls: false },
      'command',
      pino({ level: 'silent' }),
      // The command below blocks on purpose: only the closed connection may end it.
      { commandTimeout: 60_000 },
    );
    expect(await waitReady(client, 20_000)).toBe(true);
  }, 60_000);

  afterAll(async () => {
    client.disconnect();
    await cluster.stop();
  });

  it('is not sent again after its connection closed: indeterminate', async () => {
    const master = await cluster.masterOf(hashSlot('{resend}'));
    // BLMOVE waits for an element: written, in flight and unanswered until the kill.
    const outcome = sendKnowingOutcome(client, 'blmove', [
      '{resend}src',
      '{resend}dst',
      'LEFT',
      'RIGHT',
      0,
    ]);
    const id = await eventually(async () => {
      const line = (await cluster.cli(master, 'client', 'list'))
        .split('\n')
        .find((l) => l.includes('cmd=blmove'));
      return line === undefined ? false : (/\bid=(\d+)/.exec(line)?.[1] ?? false);
    }, 10_000);
    await cluster.cli(master, 'client', 'kill', 'id', id);
    // Sent again, the command would take this element and answer with it.
    await cluster.cli(master, 'rpush', '{resend}src', 'x');
    const err = await outcome.then(
      (value) => new Error(`answered ${String(value)}: it was sent again`),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('indeterminate');
    expect((await cluster.cli(master, 'llen', '{resend}src')).trim()).toBe('1');
  }, 60_000);
});
