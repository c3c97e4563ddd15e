import pino from 'pino';
import type { RedisOptions } from 'ioredis';
import { Archiver } from '../../services/archiver';
import type { ArchivedMessage } from '../../services/archive';
import { RedisBus } from '../../services/redis/bus';
import type { RedisClient } from '../../services/redis/connection';
import { RedisDeadLetters } from '../../services/redis/dead-letters';
import type { RedisKeys } from '../../services/redis/keys';
import { RedisSlotBacklog } from '../../services/redis/slot-backlog';
import { hashSlot } from '../../services/redis/slot';
import type { Message } from '../../services/types';
import { RedisCluster } from '../../support/redis-cluster';
import { connect, type TestClient } from '../helpers/client';
import { ClusterClients } from '../helpers/cluster-clients';
import { eventually } from '../helpers/eventually';
import { MemoryArchive } from '../helpers/memory-archive';
import { freshKeys } from '../helpers/redis-bus';
import { RedisKeys as Keys } from '../../services/redis/keys';
import { describeWithRedis, freePort } from '../helpers/redis-server';
import { api, startTestServer } from '../helpers/server';

/**
 * The SQL Server archive's path on a real 3-master Redis Cluster, with SQL Server's
 * stand-in (MemoryArchive): messages to teams in many slots join their slot's
 * backlog stream in the publish script, and the nodes' archivers move every one
 * of them to the archive, including those a dead node had taken or left behind.
 */
describeWithRedis('the SQL archive on a Redis Cluster', () => {
  const log = pino({ level: 'silent' });
  let cluster: RedisCluster | undefined;
  const clients = new ClusterClients(() => cluster, log);
  const client = (role: string, extra?: RedisOptions) => clients.open(role, extra);
  const closing: { close(): Promise<void> }[] = [];
  const from = { id: 'alice', name: 'Alice' };

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 60_000);

  afterEach(async () => {
    for (const c of closing.splice(0).reverse()) await c.close();
    await clients.closeAll();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  interface Node {
    bus: RedisBus;
    cmd: RedisClient;
    backlog: RedisSlotBacklog;
    archiver: Archiver;
  }

  /**
   * A node as the engine wires it: its bus tells its backlog of the streams it wrote.
   * Its archiver is not started; `sweepMs` is short so tests need not wait 30 s.
   */
  async function node(
    keys: RedisKeys,
    name: string,
    archive: MemoryArchive,
    options: { claimIdleMs?: number; sweepMs?: number; backlogMax?: number } = {},
  ): Promise<Node> {
    const cmd = await client('command', { enableAutoPipelining: true });
    const backlog = new RedisSlotBacklog(cmd, keys, name, {
      claimIdleMs: options.claimIdleMs ?? 30_000,
      sweepMs: options.sweepMs ?? 60_000,
    });
    const bus = new RedisBus(cmd, await client('subscriber'), keys, {
      nodeId: name,
      retain: 100,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      archive: true,
      archiveBacklogMax: options.backlogMax ?? 0,
      onArchived: (stream) => backlog.wrote(stream),
      log,
    });
    await backlog.start();
    const archiver = new Archiver(backlog, archive, {
      batchSize: 20,
      flushMs: 50,
      log,
      deadLetters: new RedisDeadLetters(cmd, keys, 100),
      delay: () => new Promise((resolve) => setTimeout(resolve, 20)),
    });
    closing.push(bus, archiver);
    return { bus, cmd, backlog, archiver };
  }

  /** Teams spread over many slots (and so over the three masters). */
  const teamsInManySlots = (keys: RedisKeys, n: number) => {
    const teams = Array.from({ length: n }, (_, i) => `arch-${i}`);
    expect(new Set(teams.map((t) => hashSlot(keys.seq(t)))).size).toBeGreaterThan(n * 0.75);
    return teams;
  };

  const written = (archive: MemoryArchive) => archive.writes.flat().map((m) => m.id);
  const sortedIds = (messages: { id: string }[]) => messages.map((m) => m.id).sort();

  test('messages to teams in many slots, from two nodes, reach the archive exactly once', async () => {
    const keys = freshKeys();
    const archive = new MemoryArchive();
    const a = await node(keys, 'node-a', archive);
    const b = await node(keys, 'node-b', archive);
    a.archiver.start();
    b.archiver.start();
    const teams = teamsInManySlots(keys, 30);
    const sent: Message[] = [];
    for (let round = 0; round < 3; round++) {
      sent.push(
        ...(await Promise.all(
          teams.map((teamId, i) => (i % 2 ? a : b).bus.publish({ teamId, from, data: round })),
        )),
      );
    }
    await eventually(() => archive.rows.size === sent.length, 20_000);
    // Once each: no message was handed to both nodes, none written twice.
    expect(written(archive).sort()).toEqual(sortedIds(sent));
    const rows = [...archive.rows.values()];
    for (const m of sent) {
      expect(archive.rows.get(m.id)).toMatchObject({ teamId: m.teamId, seq: m.seq, data: m.data });
    }
    expect(rows.every((r: ArchivedMessage) => r.epoch.length === 16)).toBe(true);
    // Every entry was acked and removed, in every slot's stream.
    await eventually(async () => (await a.backlog.length()) === 0);
    const slots = new Set(teams.map((t) => hashSlot(keys.seq(t))));
    const streams = [...slots].map((s) => keys.slotArchive(s));
    expect(await Promise.all(streams.map((s) => a.cmd.exists(s)))).toEqual(streams.map(() => 1));
  });

  test('the backlog length is the sum of every slot stream', async () => {
    const keys = freshKeys();
    const archive = new MemoryArchive();
    const a = await node(keys, 'node-a', archive);
    const teams = teamsInManySlots(keys, 12);
    for (const teamId of teams) await a.bus.publish({ teamId, from, data: 1 });
    expect(await a.backlog.length()).toBe(teams.length);
    // Another node learns of the streams from its sweep.
    const b = await node(keys, 'node-b', archive);
    expect(await b.backlog.length()).toBe(teams.length);
  });

  test('entries a node took and never acked are claimed by another node', async () => {
    const keys = freshKeys();
    const archive = new MemoryArchive();
    const dead = await node(keys, 'node-dead', archive);
    const teams = teamsInManySlots(keys, 8);
    const sent: Message[] = [];
    for (const teamId of teams) sent.push(await dead.bus.publish({ teamId, from, data: 'x' }));
    // The dying node took a batch from every stream it wrote, then died before writing them.
    const taken: string[] = [];
    for (let i = 0; i < teams.length * 2 && taken.length < sent.length; i++) {
      taken.push(...(await dead.backlog.take(20, 0)).messages.map((m) => m.id));
    }
    expect(taken.sort()).toEqual(sortedIds(sent));
    await dead.backlog.close();

    const survivor = await node(keys, 'node-b', archive, { claimIdleMs: 300, sweepMs: 200 });
    survivor.archiver.start();
    await eventually(() => archive.rows.size === sent.length, 20_000);
    expect(written(archive).sort()).toEqual(sortedIds(sent));
    await eventually(async () => (await survivor.backlog.length()) === 0);
  });

  test('streams a node left behind and never came back for are found by the sweep', async () => {
    const keys = freshKeys();
    const archive = new MemoryArchive();
    // Started first: its start-up sweep finds nothing, so only a later sweep can.
    const survivor = await node(keys, 'node-b', archive, { sweepMs: 300 });
    survivor.archiver.start();
    const gone = await node(keys, 'node-gone', new MemoryArchive());
    const teams = teamsInManySlots(keys, 10);
    const sent: Message[] = [];
    for (const teamId of teams) sent.push(await gone.bus.publish({ teamId, from, data: 'y' }));
    await gone.bus.close();
    await eventually(() => archive.rows.size === sent.length, 20_000);
    expect(written(archive).sort()).toEqual(sortedIds(sent));
  });

  test('a node on the cluster with SQL Server unreachable: acks, keeps the backlog, bounds it per slot', async () => {
    const prefix = `c${Date.now().toString(36)}:`;
    const keys = new Keys(prefix);
    const server = await startTestServer({
      REDIS_CLUSTER_NODES: cluster!.seeds,
      REDIS_KEY_PREFIX: prefix,
      MSSQL_URL: `Server=127.0.0.1,${await freePort()};Database=sb;User Id=sa;Password=not-used;Encrypt=false`,
      ARCHIVE_BACKLOG_MAX: '2',
      RATE_LIMIT_PER_S: '0',
    });
    closing.push(server);
    const teams = teamsInManySlots(keys, 3);
    expect(new Set(teams.map((t) => hashSlot(keys.seq(t)))).size).toBe(3);
    const sockets: TestClient[] = [];
    try {
      for (const teamId of teams) {
        const socket = await connect(server.socketUrl, { id: `u-${teamId}`, teamId });
        sockets.push(socket);
        for (let i = 1; i <= 2; i++) {
          socket.send({ type: 'team', data: i, ref: `r${i}` });
          expect((await socket.next('ack'))['seq']).toBe(i);
        }
      }
      // Each slot's stream is full; the others' are too, but each was accepted on its own.
      sockets[0]!.send({ type: 'team', data: 3, ref: 'r3' });
      expect(await sockets[0]!.next('error')).toMatchObject({ code: 'unavailable', ref: 'r3' });
      const metrics = await api<string>(server, 'GET', '/metrics');
      const line = metrics.body
        .split('\n')
        .find((l) => l.startsWith('switchboard_archive_backlog '));
      expect(Number(line?.split(' ')[1])).toBe(6);
      const cmd = await client('command');
      for (const teamId of teams)
        expect(await cmd.xlen(keys.slotArchive(hashSlot(keys.seq(teamId))))).toBe(2);
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
  });

  test('a full slot stream refuses sends to its teams with unavailable; other slots go on', async () => {
    const keys = freshKeys();
    const a = await node(keys, 'node-a', new MemoryArchive(), { backlogMax: 2 });
    const [full, other] = teamsInManySlots(keys, 2) as [string, string];
    expect(hashSlot(keys.seq(full))).not.toBe(hashSlot(keys.seq(other)));
    expect((await a.bus.publish({ teamId: full, from, data: 1 })).seq).toBe(1);
    expect((await a.bus.publish({ teamId: full, from, data: 2 })).seq).toBe(2);
    await expect(a.bus.publish({ teamId: full, from, data: 3 })).rejects.toMatchObject({
      code: 'unavailable',
    });
    expect((await a.bus.publish({ teamId: other, from, data: 1 })).seq).toBe(1);
    // Once the archive drained it, the team is accepted again, with the next seq.
    a.archiver.start();
    await eventually(async () => (await a.backlog.length()) === 0);
    expect((await a.bus.publish({ teamId: full, from, data: 4 })).seq).toBe(3);
  });
});
