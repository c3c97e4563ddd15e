import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Delivery } from '../../services/bus';
import type { Message } from '../../services/types';
import pino from 'pino';
import { RedisBus } from '../../services/redis-bus';
import { RedisDeadLetters } from '../../services/redis-dead-letters';
import { createRedisClient, waitReady } from '../../services/redis-connection';
import { RedisHistory } from '../../services/redis-history';
import { RedisKeys } from '../../services/redis-keys';
import { RedisPresence } from '../../services/redis-presence';
import { RedisStore } from '../../services/redis-store';
import { eventually } from '../helpers/eventually';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';
import { deadLettersContract } from './dead-letters-contract';
import { engineContract } from './engine-contract';
import { presenceContract } from './presence-contract';
import { storeContract } from './store-contract';

/** The same suites the memory engine passes, against a real redis-server. */
describeWithRedis('redis implementations', () => {
  const log = pino({ level: 'silent' });
  let server: RedisServer;
  const clients: Redis[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => undefined)));
    await server.stop();
  });

  async function client(role: string, subscriber = false): Promise<Redis> {
    const c = createRedisClient(
      server.url,
      role,
      log,
      subscriber ? { enableOfflineQueue: true } : {},
    );
    clients.push(c);
    await waitReady(c, 5000);
    return c;
  }

  // A fresh key prefix per instance: tests never see each other's keys.
  const keys = () => new RedisKeys(`t${randomUUID().slice(0, 8)}:`);

  engineContract('redis', async ({ retain }) => {
    const k = keys();
    const cmd = await client('command');
    const sub = await client('subscriber', true);
    const nodeId = `node-${randomUUID().slice(0, 6)}`;
    const bus = new RedisBus(cmd, sub, k, {
      nodeId,
      retain,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    const history = new RedisHistory(cmd, k, { ttlSeconds: 3600 });
    // The node channel subscription must be live before kicks are addressed to it.
    await eventually(() => bus.probe(500));
    return {
      bus,
      history,
      nodeId,
      close: async () => {
        await bus.close();
        await Promise.all([cmd.quit(), sub.quit()]);
      },
    };
  });

  presenceContract('redis', async () => {
    const presence = new RedisPresence(await client('command'), keys(), {
      nodeId: 'node-a',
      leaseMs: 10_000,
      announce: async () => undefined,
      log,
    });
    await presence.start();
    return presence;
  });

  storeContract('redis', async () => new RedisStore(await client('command'), keys()));

  deadLettersContract(
    'redis',
    async (max) => new RedisDeadLetters(await client('command'), keys(), max),
  );

  /** A bus of its own, on fresh keys, for the tests below; `retain` is the stream length. */
  async function lone(retain = 100): Promise<{ bus: RedisBus; cmd: Redis; k: RedisKeys }> {
    const k = keys();
    const cmd = await client('command');
    const sub = await client('subscriber', true);
    const bus = new RedisBus(cmd, sub, k, {
      nodeId: 'node-a',
      retain,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    return { bus, cmd, k };
  }

  test('a message in the payload format of earlier nodes is still delivered', async () => {
    const { bus, cmd, k } = await lone();
    const got: Delivery[] = [];
    bus.listen({ message: (d) => got.push(d), event: () => undefined });
    try {
      await bus.subscribe('old');
      const view = {
        id: 'm-1',
        seq: 1,
        teamId: 'old',
        from: { id: 'alice', name: 'Alice' },
        to: 'bob',
        data: { text: 'a|b|c|d|e|f' },
        ts: 1_700_000_000_000,
      };
      const old = JSON.stringify({ ...view, origin: 'conn-1' });
      await cmd.publish(k.teamChannel('old'), `mE1|${old}`);
      await eventually(() => got.length === 1);
      expect(got[0]).toMatchObject({ seq: 1, origin: 'conn-1', to: 'bob', fromId: 'alice' });
      expect(JSON.parse(String(got[0]!.frame))).toEqual({ type: 'message', ...view });
    } finally {
      await bus.close();
    }
  });

  test('seqs follow send order across turns even when Redis drops its scripts', async () => {
    const admin = await client('admin');
    const { bus } = await lone(1000);
    try {
      const from = { id: 'alice', name: 'Alice' };
      const sent: Promise<Message>[] = [];
      // One publish per event-loop turn, so several script calls are in flight at
      // once, and SCRIPT FLUSH (as after an eviction) lands among them.
      for (let i = 0; i < 300; i++) {
        sent.push(bus.publish({ teamId: 'order', from, data: i }));
        if (i % 10 === 5) void admin.script('FLUSH');
        await new Promise((resolve) => setImmediate(resolve));
      }
      const seqs = (await Promise.all(sent)).map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    } finally {
      await bus.close();
    }
  });

  test('a message Redis refuses fails alone; the rest of its batch is published', async () => {
    const { bus, cmd, k } = await lone();
    try {
      // A seq counter that is not a number makes INCR fail for that team only.
      await cmd.set(k.seq('broken'), 'not a number');
      const from = { id: 'alice', name: 'Alice' };
      const [before, broken, after] = await Promise.allSettled([
        bus.publish({ teamId: 'fine', from, data: 1 }),
        bus.publish({ teamId: 'broken', from, data: 2 }),
        bus.publish({ teamId: 'fine', from, data: 3 }),
      ]);
      expect(broken).toMatchObject({ status: 'rejected', reason: { code: 'unavailable' } });
      expect(before).toMatchObject({ status: 'fulfilled', value: { seq: 1 } });
      expect(after).toMatchObject({ status: 'fulfilled', value: { seq: 2 } });
      expect(await cmd.xlen(k.log('fine'))).toBe(2);
    } finally {
      await bus.close();
    }
  });
});
