import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { RedisBus } from '../../services/redis/bus';
import { RedisHistory } from '../../services/redis/history';
import { encodeEvent } from '../../services/redis/payload';
import { RedisPresence } from '../../services/redis/presence';
import { RedisSlotBacklog } from '../../services/redis/slot-backlog';
import { hashSlot, SLOTS } from '../../services/redis/slot';
import type { RedisOptions } from 'ioredis';
import type { ClusterEvent } from '../../services/bus';
import { RedisCluster } from '../../support/redis-cluster';
import { ClusterClients } from '../helpers/cluster-clients';
import { untilProbed } from '../helpers/bus-probe';
import { connectionInfo } from '../helpers/connection-info';
import { eventually } from '../helpers/eventually';
import { freshKeys } from '../helpers/redis-bus';
import { describeWithRedis } from '../helpers/redis-server';
import { backlogContract } from './backlog-contract';
import { engineContract } from './engine-contract';
import { redisStateContracts } from './redis-contracts';

/**
 * The suites the memory engine and one Redis pass, against a real 3-master Redis
 * Cluster; the archive backlog's on its streams per hash slot.
 */
describeWithRedis('redis cluster implementations', () => {
  const log = pino({ level: 'silent' });
  let cluster: RedisCluster | undefined;
  const clients = new ClusterClients(() => cluster, log);
  const client = (role: string, extra?: RedisOptions) => clients.open(role, extra);

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);

  afterEach(() => clients.closeAll());

  afterAll(async () => {
    await cluster?.stop();
  });

  test('the slot of a key is the one the cluster computes', async () => {
    const keys = freshKeys();
    const samples = [
      'foo',
      '123456789',
      keys.seq('T'),
      keys.teamChannel('team-1'),
      '{}x',
      'x{}{a}',
    ];
    for (const key of samples) {
      expect(hashSlot(key)).toBe(Number((await cluster!.cli(0, 'cluster', 'keyslot', key)).trim()));
    }
  });

  test("each slot's archive backlog stream is in that slot", async () => {
    const keys = freshKeys();
    for (let slot = 0; slot < SLOTS; slot++) expect(hashSlot(keys.slotArchive(slot))).toBe(slot);
    for (const slot of [0, 1, 5461, 5462, 10922, 10923, SLOTS - 1]) {
      const key = keys.slotArchive(slot);
      expect(Number((await cluster!.cli(0, 'cluster', 'keyslot', key)).trim())).toBe(slot);
    }
  });

  test('one turn of messages to teams in many slots: each is published, one call per slot', async () => {
    const keys = freshKeys();
    const bus = new RedisBus(await client('command'), await client('subscriber'), keys, {
      nodeId: 'node-a',
      retain: 10,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    const from = { id: 'u', name: 'u' };
    try {
      const teams = Array.from({ length: 40 }, (_, i) => `turn-${i}`);
      expect(new Set(teams.map((t) => hashSlot(keys.seq(t)))).size).toBeGreaterThan(30);
      // Two per team in one turn: the second of a team follows the first in its call.
      const sent = await Promise.all(
        teams.flatMap((teamId) => [
          bus.publish({ teamId, from, data: 1 }),
          bus.publish({ teamId, from, data: 2 }),
        ]),
      );
      expect(sent.map((m) => m.seq)).toEqual(teams.flatMap(() => [1, 2]));
    } finally {
      await bus.close();
    }
  });

  test("a dead node's users are removed by a survivor, which announces the leave once", async () => {
    const keys = freshKeys();
    const events: ClusterEvent[] = [];
    const make = async (nodeId: string) => {
      const presence = new RedisPresence(await client('command'), keys, {
        nodeId,
        leaseMs: 600,
        announce: async (e) => {
          events.push(e);
        },
        log,
      });
      await presence.start();
      return presence;
    };
    const a = await make('a');
    const b = await make('b');
    try {
      await a.add(connectionInfo('c1', 'u1', 'a'));
      await b.add(connectionInfo('c2', 'u2', 'b'));
      await a.close();
      await eventually(async () => (await b.members('T')).length === 1);
      await eventually(() => events.length === 1);
      expect(events).toEqual([
        { kind: 'presence', teamId: 'T', event: 'leave', user: { id: 'u1', name: 'u1' } },
      ]);
      expect(await b.teams()).toEqual([{ teamId: 'T', online: 1, connections: 1 }]);
    } finally {
      await b.close();
    }
  });

  test("a join asked of the add is published by its slot's script with SPUBLISH, once, after the entry", async () => {
    const keys = freshKeys();
    const presence = new RedisPresence(await client('command'), keys, {
      nodeId: 'a',
      leaseMs: 60_000,
      announce: async () => undefined,
      log,
    });
    await presence.start();
    const teams = Array.from({ length: 6 }, (_, i) => `join-${i}`);
    expect(new Set(teams.map((t) => hashSlot(keys.teamConns(t)))).size).toBeGreaterThan(3);
    const listener = await client('listener', {
      enableOfflineQueue: true,
      commandTimeout: undefined,
    });
    const admin = await client('admin');
    // What each join found in Redis when it arrived: the entry must be there already.
    const heard: { channel: string; payload: string; listed: Promise<string[]> }[] = [];
    listener.on('smessage', (channel: string, payload: string) => {
      const teamId = keys.teamFromChannel(channel) ?? '';
      heard.push({ channel, payload, listed: admin.zrange(keys.teamConns(teamId), 0, -1) });
    });
    await Promise.all(teams.map((t) => listener.ssubscribe(keys.teamChannel(t))));
    const join = (teamId: string, id: string) =>
      encodeEvent({ kind: 'presence', teamId, event: 'join', user: { id, name: id } });
    try {
      // One turn over many slots: each slot's script publishes its own teams' joins.
      const joins = await Promise.all(
        teams.flatMap((t) => [
          presence.add(connectionInfo(`${t}-c1`, 'u1', 'a', t), true),
          presence.add(connectionInfo(`${t}-c2`, 'u1', 'a', t), true),
        ]),
      );
      expect(joins).toEqual(
        teams.flatMap(() => [
          { first: true, announced: true },
          { first: false, announced: false },
        ]),
      );
      // u2's joins, published after the others on the same channels, mark the end of them.
      await Promise.all(
        teams.map((t) => presence.add(connectionInfo(`${t}-c3`, 'u2', 'a', t), true)),
      );
      await eventually(() => expect(heard).toHaveLength(teams.length * 2));
      for (const t of teams) {
        const onTeam = heard.filter((h) => h.channel === keys.teamChannel(t));
        expect(onTeam.map((h) => h.payload)).toEqual([join(t, 'u1'), join(t, 'u2')]);
        expect(await onTeam[0]!.listed).toEqual(expect.arrayContaining([`${t}-c1`, `${t}-c2`]));
      }
    } finally {
      await presence.close();
    }
  });

  engineContract('redis cluster', async ({ retain }) => {
    const nodeId = `node-${randomUUID().slice(0, 6)}`;
    const keys = freshKeys();
    const cmd = await client('command');
    const sub = await client('subscriber', { enableOfflineQueue: true, commandTimeout: undefined });
    const bus = new RedisBus(cmd, sub, keys, {
      nodeId,
      retain,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      log,
    });
    const history = new RedisHistory(cmd, keys, { ttlSeconds: 3600 });
    // The node channel subscription must be live before kicks are addressed to it.
    await untilProbed(bus);
    return { bus, history, nodeId, close: () => bus.close() };
  });

  redisStateContracts('redis cluster', () => client('command'), log);

  backlogContract('redis cluster', async () => {
    const keys = freshKeys();
    const cmd = await client('command');
    const takers: RedisSlotBacklog[] = [];
    const bus = new RedisBus(cmd, await client('subscriber'), keys, {
      nodeId: 'node-a',
      retain: 100,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      archive: true,
      // As the engine wires its own backlog; later takers, other nodes, find it by their sweep.
      onArchived: (stream) => takers[0]?.wrote(stream),
      log,
    });
    const from = { id: 'alice', name: 'Alice' };
    return {
      publish: (data) => bus.publish({ teamId: 'T', from, data }),
      taker: async () => {
        // Short claim and sweep times, so a batch left by a dead taker is found within the test.
        const backlog = new RedisSlotBacklog(cmd, keys, `node-${takers.length}`, {
          claimIdleMs: 200,
          sweepMs: 300,
        });
        await backlog.start();
        takers.push(backlog);
        return backlog;
      },
      waiting: async () => {
        await eventually(() => takers.some((t) => t.waiting));
      },
      close: async () => {
        await Promise.all(takers.map((t) => t.close()));
        await bus.close();
      },
    };
  });
});
