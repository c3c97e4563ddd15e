import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Delivery } from '../../services/bus';
import { RedisHistory } from '../../services/redis/history';
import type { MessageDraft } from '../../services/types';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { startTestServer } from '../helpers/server';
import { freshKeys, redisBus } from '../helpers/redis-bus';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';

/** How many times the server ran `command` since its stats were reset (scripts' calls too). */
async function commandCalls(admin: Redis, command: string): Promise<number> {
  const info = await admin.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/**
 * A join storm on the Redis engine: the joins of one event-loop turn read their
 * teams' heads in one call and subscribe their new teams in one SUBSCRIBE, and a
 * join still misses nothing published while it was under way.
 */
describeWithRedis('Redis joins batched per turn', () => {
  const redis = useRedisServer();
  let admin: Redis;

  beforeAll(async () => {
    admin = await redis.client('admin');
  });

  test("the head reads of one turn are one script call, each team's head read once", async () => {
    const keys = freshKeys('j');
    const cmd = await redis.client('command');
    const history = new RedisHistory(cmd, keys, { ttlSeconds: 3600 });
    // Loads the script, so the turn below runs it by EVALSHA alone.
    await history.head('warm');
    await admin.config('RESETSTAT');
    const teams = Array.from({ length: 40 }, (_, i) => `T${i % 4}`);
    const heads = await Promise.all(teams.map((t) => history.head(t)));
    expect(await commandCalls(admin, 'evalsha')).toBe(1);
    // The script reads a team's head with one MGET: once per team, not per join.
    expect(await commandCalls(admin, 'mget')).toBe(4);
    teams.forEach((t, i) => expect(heads[i]).toEqual(heads[teams.indexOf(t)]));
    expect(heads[0]!.seq).toBe(0);
    expect(heads[0]!.epoch).toMatch(/^\d{16}$/);
  });

  test('the new teams of one turn are subscribed with one SUBSCRIBE after one head read, and left with one UNSUBSCRIBE', async () => {
    const { bus, keys } = await redisBus(redis);
    const got: Delivery[] = [];
    bus.listen({ message: (d) => got.push(d), event: () => undefined, gap: () => undefined });
    try {
      await bus.subscribe('warm');
      await admin.config('RESETSTAT');
      const teams = Array.from({ length: 20 }, (_, i) => `S${i}`);
      await Promise.all(teams.map((t) => bus.subscribe(t)));
      expect(await commandCalls(admin, 'subscribe')).toBe(1);
      expect(await commandCalls(admin, 'evalsha')).toBe(1);
      // Each is live: a message published to any of them reaches this node.
      const other = await redisBus(redis, { keys, nodeId: 'node-b' });
      await Promise.all(teams.map((t) => other.bus.publish(draft(t, 'after'))));
      await eventually(() => expect(got.map((d) => d.teamId).sort()).toEqual([...teams].sort()));
      // The teams of a turn's leaves are unsubscribed with one UNSUBSCRIBE.
      await admin.config('RESETSTAT');
      await Promise.all(teams.map((t) => bus.unsubscribe(t)));
      expect(await commandCalls(admin, 'unsubscribe')).toBe(1);
      await other.bus.publish(draft('warm', 'still followed'));
      await Promise.all(teams.map((t) => other.bus.publish(draft(t, 'left'))));
      await eventually(() => expect(got.at(-1)?.teamId).toBe('warm'));
      expect(got).toHaveLength(teams.length + 1);
      await other.bus.close();
    } finally {
      await bus.close();
    }
  });

  test("a connection's welcome head is read beside its presence add, not after its join", async () => {
    const prefix = `w${randomUUID().slice(0, 6)}:`;
    const server = await startTestServer({ REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: prefix });
    const clients: TestClient[] = [];
    // monitor() opens a connection of its own (a duplicate() first would be left open).
    const monitor = await admin.monitor();
    try {
      clients.push(await connect(server.socketUrl, { id: 'u1', teamId: 'J' }));
      const seen: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
      clients.push(await connect(server.socketUrl, { id: 'u2', teamId: 'J' }));
      // MONITOR's copies come on a connection of their own and may trail the welcome.
      const joined = await eventually(() => {
        const at = seen.findIndex(
          (args) => args[0]?.toLowerCase() === 'publish' && (args[2] ?? '').includes('"join"'),
        );
        return at >= 0 ? at : false;
      });
      const headRead = seen.findIndex(
        (args) => /^eval/i.test(args[0] ?? '') && args.includes(`${prefix}{J}:seq`),
      );
      expect(headRead).toBeGreaterThanOrEqual(0);
      // Read after the join's PUBLISH, it cost each join a third round trip to Redis.
      expect(headRead).toBeLessThan(joined);
    } finally {
      monitor.disconnect();
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    }
  });

  test("a join is published by the presence add's script, once: no command or round trip of its own", async () => {
    const prefix = `w${randomUUID().slice(0, 6)}:`;
    const server = await startTestServer({ REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: prefix });
    const clients: TestClient[] = [];
    const monitor = await admin.monitor();
    try {
      const watcher = await connect(server.socketUrl, { id: 'u1', teamId: 'J' });
      clients.push(watcher);
      const published: { args: string[]; source: string }[] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (/^s?publish$/i.test(args[0] ?? '') && (args[2] ?? '').includes('"join"'))
          published.push({ args, source });
      });
      clients.push(await connect(server.socketUrl, { id: 'u2', teamId: 'J' }));
      // A second connection of the same user is no join.
      clients.push(await connect(server.socketUrl, { id: 'u2', teamId: 'J' }));
      expect(await watcher.next('presence')).toMatchObject({ event: 'join', user: { id: 'u2' } });
      await watcher.sync();
      expect(watcher.take('presence')).toEqual([]);
      // MONITOR's copies come on a connection of their own and may trail the frames.
      await eventually(() => published.length > 0);
      expect(published).toHaveLength(1);
      expect(published[0]!.args[1]).toBe(`${prefix}ch:team:{J}`);
      // MONITOR names the script as the source of the commands it runs.
      expect(published[0]!.source).toBe('lua');
    } finally {
      monitor.disconnect();
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    }
  });

  test('joins go on after Redis dropped its scripts (SCRIPT FLUSH): each call is sent again with its text', async () => {
    const prefix = `f${randomUUID().slice(0, 6)}:`;
    const server = await startTestServer({ REDIS_URL: redis.server.url, REDIS_KEY_PREFIX: prefix });
    const clients: TestClient[] = [];
    try {
      const watcher = await connect(server.socketUrl, { id: 'u1', teamId: 'F' });
      clients.push(watcher);
      // The node's socket has run both scripts: its next calls go by hash and hear NOSCRIPT.
      await admin.script('FLUSH');
      await admin.config('RESETSTAT');
      const joining = ['u2', 'u3', 'u4'].map((id) =>
        connect(server.socketUrl, { id, teamId: id === 'u4' ? 'G' : 'F' }),
      );
      clients.push(...(await Promise.all(joining)));
      const joined = [await watcher.next('presence'), await watcher.next('presence')];
      expect(joined.map((p) => (p['user'] as { id: string }).id).sort()).toEqual(['u2', 'u3']);
      // Sent again with the text: the scripts' NOSCRIPT answers were met, not avoided.
      expect(await commandCalls(admin, 'eval')).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    }
  });

  test('joins racing a stream of publishes miss no message after the head they were given', async () => {
    const keys = freshKeys('j');
    const publisher = await redisBus(redis, { keys, nodeId: 'node-a' });
    const joiner = await redisBus(redis, { keys, nodeId: 'node-b' });
    const history = new RedisHistory(joiner.cmd, keys, { ttlSeconds: 3600 });
    const teams = Array.from({ length: 10 }, (_, i) => `R${i}`);
    const got = new Map<string, number[]>(teams.map((t) => [t, []]));
    const gaps: string[] = [];
    joiner.bus.listen({
      message: (d) => got.get(d.teamId)?.push(d.seq),
      event: () => undefined,
      gap: (teamId) => gaps.push(teamId),
    });
    let publishing = true;
    const last = new Map<string, number>();
    const sending = (async () => {
      while (publishing) {
        const sent = await Promise.all(teams.map((t) => publisher.bus.publish(draft(t, 'x'))));
        for (const m of sent) last.set(m.teamId, m.seq);
      }
    })();
    try {
      await eventually(() => expect(last.get('R9')).toBeGreaterThan(5));
      // As a turn of joins does: subscribe (one head read, one SUBSCRIBE), then the welcome's head.
      await Promise.all(teams.map((t) => joiner.bus.subscribe(t)));
      const heads = await Promise.all(teams.map((t) => history.head(t)));
      await eventually(() => expect(last.get('R9')).toBeGreaterThan(heads[9]!.seq + 20));
      publishing = false;
      await sending;
      await eventually(() => {
        for (const t of teams) expect(got.get(t)!.at(-1)).toBe(last.get(t));
      });
      teams.forEach((t, i) => {
        const seqs = got.get(t)!;
        // Every seq after the welcome's head arrived, in order and once.
        const after = seqs.filter((s) => s > heads[i]!.seq);
        const want = Array.from(
          { length: last.get(t)! - heads[i]!.seq },
          (_, j) => heads[i]!.seq + j + 1,
        );
        expect(after).toEqual(want);
      });
      expect(gaps).toEqual([]);
    } finally {
      publishing = false;
      await sending.catch(() => undefined);
      await publisher.bus.close();
      await joiner.bus.close();
    }
  });
});

function draft(teamId: string, text: string): MessageDraft {
  return { teamId, from: { id: 'u', name: 'U' }, data: { text }, origin: 'test' };
}
