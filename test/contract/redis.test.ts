import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Delivery } from '../../services/bus';
import type { Message } from '../../services/types';
import pino from 'pino';
import { RedisBans } from '../../services/redis/bans';
import { RedisBacklog } from '../../services/redis/backlog';
import type { RedisBus, RedisBusOptions } from '../../services/redis/bus';
import { RedisHistory } from '../../services/redis/history';
import type { RedisKeys } from '../../services/redis/keys';
import { untilProbed } from '../helpers/bus-probe';
import { eventually } from '../helpers/eventually';
import { freshKeys, redisBus } from '../helpers/redis-bus';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { backlogContract } from './backlog-contract';
import { engineContract } from './engine-contract';
import { redisStateContracts } from './redis-contracts';

/** The same suites the memory engine passes, against a real redis-server. */
describeWithRedis('redis implementations', () => {
  const log = pino({ level: 'silent' });
  const redis = useRedisServer(log);
  const client = redis.client;
  const keys = () => freshKeys();

  engineContract('redis', async ({ retain }) => {
    const nodeId = `node-${randomUUID().slice(0, 6)}`;
    const { bus, cmd, sub, keys: k } = await redisBus(redis, { nodeId, retain });
    const history = new RedisHistory(cmd, k, { ttlSeconds: 3600 });
    // The node channel subscription must be live before kicks are addressed to it.
    await untilProbed(bus);
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

  redisStateContracts('redis', () => client('command'), log);

  test('a second node learns of bans at start, from events, and from a reread', async () => {
    const k = keys();
    const make = async () => {
      const bans = new RedisBans(await client('command'), k, {
        refreshMs: 0,
        onRefreshError: () => undefined,
      });
      await bans.start();
      return bans;
    };
    const a = await make();
    const early = await a.add({ userId: 'early', teamId: 'A', seconds: 60 });
    const b = await make();
    try {
      expect(b.isBanned('early', 'A')).toBe(true);
      const ban = await a.add({ userId: 'late', seconds: 60 });
      expect(b.isBanned('late', 'A')).toBe(false);
      b.observe({ kind: 'ban', ban });
      expect(b.isBanned('late', 'A')).toBe(true);
      await a.remove('early', 'A');
      b.observe({ kind: 'unban', userId: 'early', teamId: 'A' });
      expect(b.isBanned('early', 'A')).toBe(false);
      // An announcement pub/sub dropped: the reread repairs it.
      await a.add({ userId: 'missed', teamId: 'B', seconds: 60 });
      await a.remove('late', undefined);
      await b.refresh();
      expect(b.isBanned('missed', 'B')).toBe(true);
      expect(b.isBanned('late', 'A')).toBe(false);
      expect(early.userId).toBe('early');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a reread that overlaps a ban or a lift does not undo it', async () => {
    const bans = new RedisBans(await client('command'), keys(), {
      refreshMs: 0,
      onRefreshError: () => undefined,
    });
    await bans.start();
    try {
      await bans.add({ userId: 'old', teamId: 'A', seconds: 60 });
      // One connection: the reread's reads reach Redis before the ban, and its
      // answer comes after the ban and the lift were applied here.
      const reread = bans.refresh();
      await bans.add({ userId: 'mallory', teamId: 'A', seconds: 60 });
      await bans.remove('old', 'A');
      await reread;
      expect(bans.isBanned('mallory', 'A')).toBe(true);
      expect(bans.isBanned('old', 'A')).toBe(false);
      // What the reread missed is still in Redis: the next one agrees.
      await bans.refresh();
      expect(bans.isBanned('mallory', 'A')).toBe(true);
      expect(bans.isBanned('old', 'A')).toBe(false);
    } finally {
      await bans.close();
    }
  });

  /** A bus of its own, on fresh keys, for the tests below; `retain` is the stream length. */
  async function lone(
    retain = 100,
    extra: Partial<RedisBusOptions> = {},
  ): Promise<{ bus: RedisBus; cmd: Redis; k: RedisKeys; history: RedisHistory }> {
    const { bus, cmd, keys: k } = await redisBus(redis, { retain, ...extra });
    return { bus, cmd, k, history: new RedisHistory(cmd, k, { ttlSeconds: 3600 }) };
  }

  backlogContract('redis', async () => {
    const { bus, cmd, k } = await lone(100, { archive: true });
    const from = { id: 'alice', name: 'Alice' };
    const takers: RedisBacklog[] = [];
    return {
      publish: (data) => bus.publish({ teamId: 'T', from, data }),
      taker: async () => {
        // A short claim time, so a batch left by a dead taker is claimed within the test.
        const blocking = await client('archive');
        const backlog = new RedisBacklog(cmd, blocking, k, `node-${takers.length}`, 200);
        await backlog.start();
        takers.push(backlog);
        return backlog;
      },
      waiting: async () => {
        await eventually(async () => /blocked_clients:[1-9]/.test(await cmd.info('clients')));
      },
      close: async () => {
        await Promise.all(takers.map((t) => t.close()));
        await bus.close();
      },
    };
  });

  test('a message in the payload format of earlier nodes is still delivered', async () => {
    const { bus, cmd, k } = await lone();
    const got: Delivery[] = [];
    bus.listen({ message: (d) => got.push(d), event: () => undefined, gap: () => undefined });
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
      // An earlier node publishes in the team's epoch as Redis holds it.
      const epoch = await cmd.get(k.epoch('old'));
      await cmd.publish(k.teamChannel('old'), `m${epoch}|${old}`);
      await eventually(() => got.length === 1);
      expect(got[0]).toMatchObject({ seq: 1, origin: 'conn-1', to: 'bob', fromId: 'alice' });
      expect(JSON.parse(String(got[0]!.frame))).toEqual({ type: 'message', ...view });
    } finally {
      await bus.close();
    }
  });

  test('an unsubscribe while the subscribe reads the head leaves no subscription', async () => {
    const { bus, cmd, k } = await lone();
    try {
      // The last local member leaves (a ban, a close) while the first one still subscribes.
      const subscribing = bus.subscribe('brief');
      const unsubscribing = bus.unsubscribe('brief');
      await Promise.all([subscribing, unsubscribing]);
      const [, count] = (await cmd.pubsub('NUMSUB', k.teamChannel('brief'))) as [string, number];
      expect(count).toBe(0);
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
      // A seq counter that is not a number (beside its epoch, so the team is not
      // simply renewed) fails that team only.
      await cmd.set(k.seq('broken'), 'not a number');
      await cmd.set(k.epoch('broken'), 'e1');
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

  test('a new epoch comes from Redis’s clock and never at or below the last one made', async () => {
    const { bus, cmd, k, history } = await lone();
    const from = { id: 'alice', name: 'Alice' };
    try {
      await bus.publish({ teamId: 'T', from, data: 1 });
      const first = (await history.head('T')).epoch;
      expect(first).toMatch(/^\d{16}$/);
      const [seconds] = await cmd.time();
      expect(Math.abs(Number(first.slice(0, 10)) - Number(seconds))).toBeLessThan(60);
      // A replica whose clock lags takes over and the team's keys are gone: the floor holds.
      await cmd.set(k.epochFloor('T'), '9000000000000000');
      await cmd.del(k.seq('T'), k.epoch('T'), k.log('T'));
      expect((await bus.publish({ teamId: 'T', from, data: 2 })).seq).toBe(1);
      expect(await history.head('T')).toEqual({ seq: 1, epoch: '9000000000000001' });
    } finally {
      await bus.close();
    }
  });

  describe('a refused message costs no seq', () => {
    const from = { id: 'alice', name: 'Alice' };

    test('the team stream of the wrong type: refused, and the next message takes the next seq', async () => {
      const { bus, cmd, k, history } = await lone();
      try {
        expect((await bus.publish({ teamId: 'T', from, data: 1 })).seq).toBe(1);
        const { epoch } = await history.head('T');
        await cmd.set(k.log('T'), 'not a stream');
        await expect(bus.publish({ teamId: 'T', from, data: 2 })).rejects.toMatchObject({
          code: 'unavailable',
        });
        expect(await cmd.get(k.seq('T'))).toBe('1');
        await cmd.del(k.log('T'));
        expect((await bus.publish({ teamId: 'T', from, data: 3 })).seq).toBe(2);
        expect(await history.head('T')).toEqual({ seq: 2, epoch });
      } finally {
        await bus.close();
      }
    });

    test('a seq counter of the wrong type: refused, never taken for a missing one', async () => {
      const { bus, cmd, k, history } = await lone();
      try {
        expect((await bus.publish({ teamId: 'T', from, data: 1 })).seq).toBe(1);
        await cmd.del(k.seq('T'));
        await cmd.rpush(k.seq('T'), 'not a counter');
        await expect(bus.publish({ teamId: 'T', from, data: 2 })).rejects.toMatchObject({
          code: 'unavailable',
        });
        // A missing counter would have started a new epoch over the team's history.
        expect(await cmd.type(k.seq('T'))).toBe('list');
        expect((await history.before('T', { limit: 10 })).messages.map((m) => m.data)).toEqual([1]);
      } finally {
        await bus.close();
      }
    });

    test('the archive backlog of the wrong type: refused, nothing stored, the next seq follows', async () => {
      const { bus, cmd, k, history } = await lone(100, { archive: true });
      try {
        expect((await bus.publish({ teamId: 'T', from, data: 1 })).seq).toBe(1);
        await cmd.del(k.archive());
        await cmd.set(k.archive(), 'not a stream');
        await expect(bus.publish({ teamId: 'T', from, data: 2 })).rejects.toMatchObject({
          code: 'unavailable',
        });
        // Not in the team's history either: the sender was told it was not accepted.
        expect((await history.before('T', { limit: 10 })).messages.map((m) => m.data)).toEqual([1]);
        await cmd.del(k.archive());
        expect((await bus.publish({ teamId: 'T', from, data: 3 })).seq).toBe(2);
        expect(await cmd.xlen(k.archive())).toBe(1);
      } finally {
        await bus.close();
      }
    });

    test('Redis out of memory: refused with unavailable, and the next seq follows once it has room', async () => {
      const admin = await client('admin');
      const { bus, cmd, k } = await lone(100, { archive: true });
      try {
        expect((await bus.publish({ teamId: 'T', from, data: 1 })).seq).toBe(1);
        await admin.config('SET', 'maxmemory', '1');
        await expect(bus.publish({ teamId: 'T', from, data: 2 })).rejects.toMatchObject({
          code: 'unavailable',
        });
        await expect(bus.publish({ teamId: 'U', from, data: 1 })).rejects.toMatchObject({
          code: 'unavailable',
        });
        await admin.config('SET', 'maxmemory', '0');
        expect((await bus.publish({ teamId: 'T', from, data: 3 })).seq).toBe(2);
        expect((await bus.publish({ teamId: 'U', from, data: 4 })).seq).toBe(1);
        expect(await cmd.xlen(k.log('T'))).toBe(2);
        expect(await cmd.xlen(k.archive())).toBe(3);
      } finally {
        await admin.config('SET', 'maxmemory', '0');
        await bus.close();
      }
    });
  });

  describe('a team whose counter is gone', () => {
    const from = { id: 'alice', name: 'Alice' };

    test('a missing seq key beside its epoch key starts a new epoch at seq 1', async () => {
      const { bus, cmd, k, history } = await lone();
      try {
        for (let i = 1; i <= 3; i++) await bus.publish({ teamId: 'T', from, data: i });
        const before = await history.head('T');
        expect(before.seq).toBe(3);
        // As an eviction would: the counter goes, the epoch key and the log stay.
        await cmd.del(k.seq('T'));
        expect((await bus.publish({ teamId: 'T', from, data: 4 })).seq).toBe(1);
        const after = await history.head('T');
        expect(after).toEqual({ seq: 1, epoch: expect.any(String) });
        expect(after.epoch).not.toBe(before.epoch);
        expect((await history.before('T', { limit: 10 })).messages.map((m) => m.data)).toEqual([4]);
      } finally {
        await bus.close();
      }
    });

    test('the counter and the log both gone, the epoch left: still a new epoch', async () => {
      const { bus, cmd, k, history } = await lone();
      try {
        await bus.publish({ teamId: 'T', from, data: 1 });
        const before = await history.head('T');
        await cmd.del(k.seq('T'), k.log('T'));
        expect((await bus.publish({ teamId: 'T', from, data: 2 })).seq).toBe(1);
        expect((await history.head('T')).epoch).not.toBe(before.epoch);
      } finally {
        await bus.close();
      }
    });

    test('a fresh team whose head was read before its first message keeps its epoch', async () => {
      const { bus, cmd, k, history } = await lone();
      try {
        const head = await history.head('fresh');
        expect(head.seq).toBe(0);
        // Both keys exist from the first read on, with the same TTL.
        expect(await cmd.ttl(k.seq('fresh'))).toBeGreaterThan(0);
        expect(await cmd.ttl(k.epoch('fresh'))).toBeGreaterThan(0);
        expect((await bus.publish({ teamId: 'fresh', from, data: 1 })).seq).toBe(1);
        expect(await history.head('fresh')).toEqual({ seq: 1, epoch: head.epoch });
        const replay = await history.replay('fresh', { since: 0, epoch: head.epoch });
        expect(replay).toMatchObject({ complete: true, head: { seq: 1, epoch: head.epoch } });
      } finally {
        await bus.close();
      }
    });
  });
});
