import { randomUUID } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import pino from 'pino';
import type { ClusterEvent } from '../../services/bus';
import { createRedisClient, waitReady } from '../../services/redis-connection';
import { RedisKeys } from '../../services/redis-keys';
import { RedisPresence } from '../../services/redis-presence';
import type { ConnectionInfo } from '../../services/types';
import { eventually } from '../helpers/eventually';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';

/** Leases, sweeps and self-healing of cluster presence, on a real Redis. */
describeWithRedis('redis presence leases', () => {
  const log = pino({ level: 'silent' });
  const LEASE_MS = 300;
  let redis: RedisServer;
  let clients: Redis[] = [];
  let presences: RedisPresence[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(async () => {
    await Promise.all(presences.map((p) => p.close()));
    for (const c of clients) c.disconnect();
    presences = [];
    clients = [];
  });

  async function node(
    keys: RedisKeys,
    nodeId: string,
    events: ClusterEvent[] = [],
    options: { url?: string; client?: RedisOptions; announce?: () => Promise<void> } = {},
  ): Promise<RedisPresence> {
    return (await nodeWithClient(keys, nodeId, events, options)).presence;
  }

  /** A node and its Redis connection; `announce` runs before each event is recorded. */
  async function nodeWithClient(
    keys: RedisKeys,
    nodeId: string,
    events: ClusterEvent[] = [],
    options: { url?: string; client?: RedisOptions; announce?: () => Promise<void> } = {},
  ): Promise<{ presence: RedisPresence; client: Redis }> {
    const client = createRedisClient(options.url ?? redis.url, 'command', log, options.client);
    clients.push(client);
    await waitReady(client, 5000);
    const presence = new RedisPresence(client, keys, {
      nodeId,
      leaseMs: LEASE_MS,
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

  const conn = (connId: string, userId: string, node: string): ConnectionInfo => ({
    connId,
    userId,
    name: userId,
    teamId: 'T',
    node,
    ip: '127.0.0.1',
    connectedAt: new Date().toISOString(),
  });

  test("a dead node's users are removed by a survivor, which announces the leave once", async () => {
    const keys = new RedisKeys(`p${randomUUID().slice(0, 6)}:`);
    const events: ClusterEvent[] = [];
    const a = await node(keys, 'a');
    const b = await node(keys, 'b', events);
    await a.add(conn('c1', 'u1', 'a'));
    await b.add(conn('c2', 'u2', 'b'));
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
    const keys = new RedisKeys(`p${randomUUID().slice(0, 6)}:`);
    const a = await node(keys, 'a');
    await node(keys, 'b');
    await a.add(conn('c1', 'u1', 'a'));
    const admin = createRedisClient(redis.url, 'command', log);
    clients.push(admin);
    await waitReady(admin, 5000);
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

  test('a connection whose add failed is not restored later: its socket closed', async () => {
    const own = await RedisServer.start();
    try {
      const keys = new RedisKeys(`p${randomUUID().slice(0, 6)}:`);
      const seen: ClusterEvent[] = [];
      const a = await node(keys, 'a', seen, { url: own.url });
      await own.kill();
      await expect(a.add(conn('c1', 'u1', 'a'))).rejects.toMatchObject({ code: 'unavailable' });
      await own.restart();
      await eventually(() => a.registered, 10000);
      expect(await a.get('c1')).toBeUndefined();
      expect(seen).toEqual([]);
    } finally {
      await Promise.all(presences.map((p) => p.close()));
      presences = [];
      await own.stop();
    }
  });
});
