import { once } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import pino from 'pino';
import type { ClusterEvent } from '../../services/bus';
import { createRedisClient, waitReady } from '../../services/redis/connection';
import type { RedisKeys } from '../../services/redis/keys';
import { encodeEvent } from '../../services/redis/payload';
import { RedisPresence } from '../../services/redis/presence';
import { connectionInfo } from '../helpers/connection-info';
import { eventually } from '../helpers/eventually';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis, RedisServer, useRedisServer } from '../helpers/redis-server';

/** Leases, sweeps and self-healing of cluster presence, on a real Redis. */
describeWithRedis('redis presence leases', () => {
  const log = pino({ level: 'silent' });
  const LEASE_MS = 300;
  const redis = useRedisServer();
  let clients: Redis[] = [];
  let presences: RedisPresence[] = [];

  afterEach(async () => {
    await Promise.all(presences.map((p) => p.close()));
    for (const c of clients) c.disconnect();
    presences = [];
    clients = [];
  });

  interface NodeOptions {
    url?: string;
    client?: RedisOptions;
    announce?: () => Promise<void>;
    leaseMs?: number;
  }

  async function node(
    keys: RedisKeys,
    nodeId: string,
    events: ClusterEvent[] = [],
    options: NodeOptions = {},
  ): Promise<RedisPresence> {
    return (await nodeWithClient(keys, nodeId, events, options)).presence;
  }

  /** A node and its Redis connection; `announce` runs before each event is recorded. */
  async function nodeWithClient(
    keys: RedisKeys,
    nodeId: string,
    events: ClusterEvent[] = [],
    options: NodeOptions = {},
  ): Promise<{ presence: RedisPresence; client: Redis }> {
    const client = createRedisClient(
      { kind: 'single', url: options.url ?? redis.server.url },
      'command',
      log,
      options.client,
    );
    clients.push(client);
    await waitReady(client, 5000);
    const presence = new RedisPresence(client, keys, {
      nodeId,
      leaseMs: options.leaseMs ?? LEASE_MS,
      announce: async (e) => {
        await options.announce?.();
        events.push(e);
      },
      log,
    });
    presences.push(presence);
    await presence.start();
    return { presence, client };
  }

  async function adminClient(url = redis.server.url): Promise<Redis> {
    const admin = createRedisClient({ kind: 'single', url }, 'command', log);
    clients.push(admin);
    await waitReady(admin, 5000);
    return admin;
  }

  /** A redis-server of the test's own, to restart; its nodes close before it stops. */
  async function withOwnRedis(use: (own: RedisServer) => Promise<void>): Promise<void> {
    const own = await RedisServer.start();
    try {
      await use(own);
    } finally {
      await Promise.all(presences.map((p) => p.close()));
      presences = [];
      await own.stop();
    }
  }

  /**
   * Stalls a node as a long pause would: its connection waits behind a BLPOP, so
   * it renews nothing until `wake` pushes to the list.
   */
  function stall(client: Redis, admin: Redis, key: string): { wake: () => Promise<void> } {
    void client.blpop(key, 0).catch(() => undefined);
    return {
      wake: async () => {
        await admin.lpush(key, 'go');
      },
    };
  }

  /** How many times the server ran `command` since its stats were reset. */
  async function commandCalls(admin: Redis, command: string): Promise<number> {
    const info = await admin.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  }

  test('the adds of one turn write each cluster-wide index once, and every one is listed', async () => {
    const keys = freshKeys('p');
    // A long lease: no reconcile runs meanwhile (it would write the entries it had not seen yet).
    const a = await node(keys, 'a', [], { leaseMs: 60_000 });
    const admin = await adminClient();
    await admin.config('RESETSTAT');
    const conns = Array.from({ length: 50 }, (_, i) =>
      connectionInfo(`c${i}`, `u${i}`, 'a', `T${i % 5}`),
    );
    await Promise.all(conns.map((c) => a.add(c)));
    // A reconnect storm joins thousands in a few seconds: five commands per join would
    // cost Redis more than the team's own script.
    expect(await commandCalls(admin, 'hset')).toBe(1);
    expect(await commandCalls(admin, 'sadd')).toBe(3);
    const listed = await a.list({ limit: 100 });
    expect(listed.connections.map((c) => c.connId).sort()).toEqual(
      conns.map((c) => c.connId).sort(),
    );
    expect((await a.teams()).map((t) => t.teamId).sort()).toEqual(['T0', 'T1', 'T2', 'T3', 'T4']);
  });

  test('on one Redis a turn of adds is one command: its script writes the indexes, then the teams', async () => {
    const keys = freshKeys('p');
    const a = await node(keys, 'a', [], { leaseMs: 60_000 });
    const admin = await adminClient();
    // Loads the script, so the turn below runs it by EVALSHA alone.
    await a.add(connectionInfo('warm', 'w', 'a', 'W'));
    const monitor = await admin.monitor();
    const seen: { command: string; key: string; source: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) =>
      seen.push({ command: (args[0] ?? '').toLowerCase(), key: args[1] ?? '', source }),
    );
    try {
      const conns = Array.from({ length: 20 }, (_, i) =>
        connectionInfo(`c${i}`, `u${i}`, 'a', `T${i % 4}`),
      );
      await Promise.all(conns.map((c) => a.add(c)));
      // A read after the turn: once MONITOR has shown it, it has shown the whole turn.
      await a.get('c0');
      await eventually(() => expect(seen.some((s) => s.command === 'hmget')).toBe(true));
      const turn = seen.slice(
        0,
        seen.findIndex((s) => s.command !== 'evalsha' && s.source !== 'lua'),
      );
      expect(turn.filter((s) => s.source !== 'lua').map((s) => s.command)).toEqual(['evalsha']);
      // Every index is written before the first team entry.
      const firstTeamWrite = turn.findIndex((s) => s.key.includes(':presence:conns'));
      const indexWrites = turn.filter(
        (s) => ['sadd', 'hset', 'zadd'].includes(s.command) && !s.key.includes('{'),
      );
      expect(indexWrites).toHaveLength(5);
      for (const w of indexWrites) expect(turn.indexOf(w)).toBeLessThan(firstTeamWrite);
      expect((await a.list({ limit: 100 })).connections.map((c) => c.connId).sort()).toEqual(
        ['warm', ...conns.map((c) => c.connId)].sort(),
      );
      expect((await a.teams()).map((t) => t.teamId).sort()).toEqual(['T0', 'T1', 'T2', 'T3', 'W']);
    } finally {
      monitor.disconnect();
    }
  });

  test('a turn of thousands of adds (a reconnect storm) is written whole, indexes and teams', async () => {
    const keys = freshKeys('p');
    const a = await node(keys, 'a', [], { leaseMs: 60_000 });
    // More than one Lua call can unpack (8,000): the script writes the indexes in chunks.
    const conns = Array.from({ length: 4500 }, (_, i) =>
      connectionInfo(`c${i}`, `u${i}`, 'a', `T${i % 2}`),
    );
    const added = await Promise.all(conns.map((c) => a.add(c)));
    expect(added.every((r) => r.first)).toBe(true);
    let listed = 0;
    for (let page = await a.list({ limit: 1000 }); ;) {
      listed += page.connections.length;
      if (page.next === null) break;
      page = await a.list({ limit: 1000, cursor: page.next });
    }
    expect(listed).toBe(conns.length);
    expect((await a.teams()).sort((x, y) => x.teamId.localeCompare(y.teamId))).toEqual([
      { teamId: 'T0', online: 2250, connections: 2250 },
      { teamId: 'T1', online: 2250, connections: 2250 },
    ]);
  });

  /** Connections in five teams, some users with two or three in one team. */
  function turnOfJoins(node: string): ReturnType<typeof connectionInfo>[] {
    return Array.from({ length: 50 }, (_, i) =>
      connectionInfo(`c${i}`, `u${i % 20}`, node, `T${i % 5}`),
    );
  }

  test("the adds of one turn run the team script once, and count each user's connections", async () => {
    const keys = freshKeys('p');
    const a = await node(keys, 'a', [], { leaseMs: 60_000 });
    const admin = await adminClient();
    // Loads the script, so the turn below runs it by EVALSHA alone.
    await a.add(connectionInfo('warm', 'w', 'a', 'W'));
    await admin.config('RESETSTAT');
    const conns = turnOfJoins('a');
    const added = await Promise.all(conns.map((c) => a.add(c)));
    // The teams' part was one script call per connection: as costly as the indexes were.
    expect(await commandCalls(admin, 'evalsha')).toBe(1);
    const pairs = new Set(conns.map((c) => `${c.userId}/${c.teamId}`));
    expect(added.filter((r) => r.first)).toHaveLength(pairs.size);
    conns.forEach((c, i) => {
      const earlier = conns.slice(0, i).some((o) => o.userId === c.userId && o.teamId === c.teamId);
      expect(added[i]!.first).toBe(!earlier);
    });
    const members = await a.members('T0');
    const expected = conns.filter((c) => c.teamId === 'T0');
    expect(members.map((m) => m.id).sort()).toEqual(
      [...new Set(expected.map((c) => c.userId))].sort(),
    );
    for (const m of members)
      expect(m.connections).toBe(expected.filter((c) => c.userId === m.id).length);
  });

  test("a join asked of the add is published by its script once, after the entry, and only the user's first", async () => {
    const keys = freshKeys('p');
    const a = await node(keys, 'a', [], { leaseMs: 60_000 });
    const admin = await adminClient();
    const listener = await redis.client('listener', true);
    // What each join found in Redis when it arrived: the entry must be there already.
    const heard: { payload: string; listed: Promise<string[]> }[] = [];
    listener.on('message', (_channel: string, payload: string) =>
      heard.push({ payload, listed: admin.zrange(keys.teamConns('J'), 0, -1) }),
    );
    await listener.subscribe(keys.teamChannel('J'));
    // Loads the script, so the turn below runs it by EVALSHA alone.
    await a.add(connectionInfo('warm', 'w', 'a', 'W'), true);
    await admin.config('RESETSTAT');
    const joins = await Promise.all([
      a.add(connectionInfo('c1', 'u1', 'a', 'J'), true),
      a.add(connectionInfo('c2', 'u1', 'a', 'J'), true),
      a.add(connectionInfo('c3', 'u2', 'a', 'J')),
    ]);
    expect(joins).toEqual([
      { first: true, announced: true },
      { first: false, announced: false },
      // Not asked (a restore): the caller decides whether to announce it.
      { first: true },
    ]);
    // Published inside the add's one script call, not as a command of its own.
    expect(await commandCalls(admin, 'evalsha')).toBe(1);
    // u3's join, published after the others on the same channel, marks the end of them.
    await a.add(connectionInfo('c4', 'u3', 'a', 'J'), true);
    await eventually(() => expect(heard).toHaveLength(2));
    const join = (id: string) =>
      encodeEvent({ kind: 'presence', teamId: 'J', event: 'join', user: { id, name: id } });
    expect(heard.map((h) => h.payload)).toEqual([join('u1'), join('u3')]);
    expect(await heard[0]!.listed).toEqual(expect.arrayContaining(['c1', 'c2']));
  });

  test('the removes of one turn run the team script once and each index command once', async () => {
    const keys = freshKeys('p');
    const a = await node(keys, 'a', [], { leaseMs: 60_000 });
    const admin = await adminClient();
    const conns = turnOfJoins('a');
    await Promise.all(conns.map((c) => a.add(c)));
    await a.remove(conns[0]!);
    await admin.config('RESETSTAT');
    const rest = conns.slice(1);
    const removed = await Promise.all(rest.map((c) => a.remove(c)));
    expect(await commandCalls(admin, 'evalsha')).toBe(1);
    // The node's connections and the live teams: one SREM each, not one per connection.
    expect(await commandCalls(admin, 'srem')).toBe(2);
    rest.forEach((c, i) => {
      const later = rest.slice(i + 1).some((o) => o.userId === c.userId && o.teamId === c.teamId);
      expect(removed[i]!.last).toBe(!later);
    });
    expect(await a.teams()).toEqual([]);
    expect((await a.list({ limit: 100 })).connections).toEqual([]);
    expect(await a.teamCount()).toBe(0);
  });

  test("a dead node's users are removed by a survivor, which announces the leave once", async () => {
    const keys = freshKeys('p');
    const events: ClusterEvent[] = [];
    const a = await node(keys, 'a');
    const b = await node(keys, 'b', events);
    await a.add(connectionInfo('c1', 'u1', 'a'));
    await b.add(connectionInfo('c2', 'u2', 'b'));
    // Node a stops renewing, as if killed.
    await a.close();
    presences = presences.filter((p) => p !== a);
    await eventually(async () => (await b.members('T')).length === 1);
    await eventually(() => events.length === 1);
    expect(events).toEqual([
      { kind: 'presence', teamId: 'T', event: 'leave', user: { id: 'u1', name: 'u1' } },
    ]);
  });

  test('a node that lost its entries (lapsed lease, lost write) restores them within a lease', async () => {
    const keys = freshKeys('p');
    const a = await node(keys, 'a');
    await node(keys, 'b');
    await a.add(connectionInfo('c1', 'u1', 'a'));
    const admin = await adminClient();
    // Behind a's back: its entry disappears while its lease is fine.
    await admin.hdel(keys.conns(), 'c1');
    await admin.srem(keys.nodeConns('a'), 'c1');
    await eventually(async () => (await a.get('c1')) !== undefined);
    // And after its lease lapsed and a survivor swept it.
    await admin.del(keys.lease('a'));
    await eventually(
      async () => (await a.get('c1')) !== undefined && (await admin.exists(keys.lease('a'))) === 1,
    );
    expect((await a.members('T')).map((m) => m.id)).toEqual(['u1']);
  });

  test('a node back from a lapsed lease announces the join after the sweeper announced the leave', async () => {
    const keys = freshKeys('p');
    const admin = await adminClient();
    const seen: ClusterEvent[] = [];
    // The sweeper's publish of the leave is slow: it lands only when let through.
    let letThrough: () => void = () => undefined;
    const publishing = new Promise<void>((resolve) => (letThrough = resolve));
    const { presence: a, client: aClient } = await nodeWithClient(keys, 'a', seen, {
      client: { commandTimeout: undefined },
    });
    await node(keys, 'b', seen, { announce: () => publishing });
    await a.add(connectionInfo('c1', 'u1', 'a'));

    const paused = stall(aClient, admin, `${keys.lease('a')}:gate`);
    try {
      await admin.del(keys.lease('a'));
      // b sweeps a: the entry is gone, the leave is on its way.
      await eventually(async () => (await admin.hexists(keys.conns(), 'c1')) === 0);
      await paused.wake();
      await eventually(async () => (await admin.exists(keys.lease('a'))) === 1);
      // A round trip on a's connection: what a does right after taking its lease back is done.
      await a.members('T');
      expect(seen).toEqual([]);
      expect(await admin.hexists(keys.conns(), 'c1')).toBe(0);
    } finally {
      letThrough();
    }
    await eventually(() => seen.length === 2);
    expect(seen).toEqual([
      { kind: 'presence', teamId: 'T', event: 'leave', user: { id: 'u1', name: 'u1' } },
      { kind: 'presence', teamId: 'T', event: 'join', user: { id: 'u1', name: 'u1' } },
    ]);
    await eventually(() => a.registered);
    expect((await a.members('T')).map((m) => m.id)).toEqual(['u1']);
  });

  test('a user with a connection on a live node neither leaves nor joins when another node lapses', async () => {
    const keys = freshKeys('p');
    const admin = await adminClient();
    const seen: ClusterEvent[] = [];
    const { presence: a, client: aClient } = await nodeWithClient(keys, 'a', seen, {
      client: { commandTimeout: undefined },
    });
    const b = await node(keys, 'b', seen);
    await a.add(connectionInfo('c1', 'u1', 'a'));
    await b.add(connectionInfo('c2', 'u1', 'b'));

    const paused = stall(aClient, admin, `${keys.lease('a')}:gate`);
    await admin.del(keys.lease('a'));
    await eventually(async () => (await admin.hexists(keys.conns(), 'c1')) === 0);
    await paused.wake();
    await eventually(async () => (await a.get('c1')) !== undefined && a.registered);
    expect(await b.members('T')).toEqual([{ id: 'u1', name: 'u1', connections: 2 }]);
    expect(seen).toEqual([]);
  });

  test('after a Redis restart every user present is announced once, wherever their connections are', async () => {
    await withOwnRedis(async (own) => {
      const keys = freshKeys('p');
      const seen: ClusterEvent[] = [];
      const a = await node(keys, 'a', seen, { url: own.url });
      const b = await node(keys, 'b', seen, { url: own.url });
      await a.add(connectionInfo('c1', 'u1', 'a'));
      await a.add(connectionInfo('c2', 'u2', 'a'));
      await b.add(connectionInfo('c3', 'u2', 'b'));

      await own.kill();
      await own.restart();
      await eventually(
        async () =>
          a.registered && b.registered && (await b.members('T')).length === 2 && seen.length >= 2,
        10000,
      );
      expect(
        seen.map((e) => (e.kind === 'presence' ? `${e.event} ${e.user.id}` : e.kind)).sort(),
      ).toEqual(['join u1', 'join u2']);
      expect(await a.members('T')).toEqual([
        { id: 'u1', name: 'u1', connections: 1 },
        { id: 'u2', name: 'u2', connections: 2 },
      ]);
    });
  });

  test('a connection whose add failed is not restored later: its socket closed', async () => {
    await withOwnRedis(async (own) => {
      const keys = freshKeys('p');
      const seen: ClusterEvent[] = [];
      const a = await node(keys, 'a', seen, { url: own.url });
      await own.kill();
      await expect(a.add(connectionInfo('c1', 'u1', 'a'))).rejects.toMatchObject({
        code: 'unavailable',
      });
      await own.restart();
      await eventually(() => a.registered, 10000);
      expect(await a.get('c1')).toBeUndefined();
      expect(seen).toEqual([]);
    });
  });

  /**
   * Drops `client`'s connection with CLIENT KILL, as a restart or failover would, and
   * resolves once it is connected again.
   */
  async function dropConnection(client: Redis, admin: Redis): Promise<void> {
    const id = await client.client('ID');
    const closed = once(client, 'close');
    await admin.call('CLIENT', 'KILL', 'ID', String(id));
    await closed;
    expect(await waitReady(client, 5000)).toBe(true);
  }

  test('a node whose Redis came back empty is not registered before it has re-registered', async () => {
    await withOwnRedis(async (own) => {
      const keys = freshKeys('p');
      // A lease far longer than the test: no routine renewal happens to fail meanwhile.
      const { presence: a, client } = await nodeWithClient(keys, 'a', [], {
        url: own.url,
        leaseMs: 60_000,
      });
      await a.add(connectionInfo('c1', 'u1', 'a'));
      expect(a.registered).toBe(true);
      const admin = await adminClient(own.url);

      // Redis lost everything and the node's connection dropped; the reconnected node's
      // renewal (a write) is held by the pause, so it cannot have re-registered yet.
      await admin.flushall();
      await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE');
      await dropConnection(client, admin);
      expect(await admin.hexists(keys.conns(), 'c1')).toBe(0);
      expect(a.registered).toBe(false);

      await admin.call('CLIENT', 'UNPAUSE');
      await eventually(() => a.registered, 10000);
      expect(await a.get('c1')).toBeDefined();
      expect(await admin.exists(keys.lease('a'))).toBe(1);
    });
  });

  test('a node whose connection dropped while Redis kept everything is registered again, quietly', async () => {
    await withOwnRedis(async (own) => {
      const keys = freshKeys('p');
      const seen: ClusterEvent[] = [];
      const { presence: a, client } = await nodeWithClient(keys, 'a', seen, {
        url: own.url,
        leaseMs: 60_000,
      });
      await a.add(connectionInfo('c1', 'u1', 'a'));
      const admin = await adminClient(own.url);

      // As after a restart with AOF, or a dropped connection: nothing was lost.
      await dropConnection(client, admin);
      await eventually(() => a.registered, 10000);
      expect(await a.members('T')).toEqual([{ id: 'u1', name: 'u1', connections: 1 }]);
      expect(seen).toEqual([]);
    });
  });

  test('a renewal that spans a reconnect is done again on the new connection', async () => {
    await withOwnRedis(async (own) => {
      const keys = freshKeys('p');
      const seen: ClusterEvent[] = [];
      let entered: () => void = () => undefined;
      const inAnnounce = new Promise<void>((resolve) => (entered = resolve));
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const { presence: a, client } = await nodeWithClient(keys, 'a', seen, {
        url: own.url,
        leaseMs: 60_000,
        // The restore's join waits here: the renewal is under way, between Redis calls.
        announce: async () => {
          entered();
          await gate;
        },
      });
      await a.add(connectionInfo('c1', 'u1', 'a'));
      const admin = await adminClient(own.url);

      // Redis comes back empty: the reconnected node restores c1 and announces u1's join...
      await admin.flushall();
      await dropConnection(client, admin);
      await inAnnounce;
      // ...and while it does, Redis comes back empty once more.
      await admin.flushall();
      await dropConnection(client, admin);
      release();

      await eventually(() => a.registered, 10000);
      expect(await admin.exists(keys.lease('a'))).toBe(1);
      expect(await a.get('c1')).toBeDefined();
    });
  });
});
