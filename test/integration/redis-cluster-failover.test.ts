import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import pino from 'pino';
import { createRedisClient, waitReady } from '../../services/redis/connection';
import { decodeLogEntry, type StreamEntry } from '../../services/redis/payload';
import { waitOnWritingConnection } from '../../services/redis/replicas';
import { sendKnowingOutcome } from '../../services/redis/send';
import { hashSlot } from '../../services/redis/slot';
import { RedisCluster } from '../../support/redis-cluster';
import { connect, type Frame, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import {
  newSendTally,
  sendUntilStopped,
  startFailoverNodes,
  type SendTally,
} from '../helpers/failover-sender';
import { describeWithRedis } from '../helpers/redis-server';
import { api, startTestServer } from '../helpers/server';

const MASTERS = 3;
/** Teams per master: every shard carries traffic when one of them is killed. */
const TEAMS_PER_MASTER = 2;
/** Acks each sender must get once the failover is over: its node recovered. */
const ACKS_AFTER = 5;

interface Outcome {
  tally: SendTally;
  /** Refs acked but not in the team's stream with that id and seq after the failover. */
  lost: string[];
  /** Stream entries whose message id was already seen: a publish run twice. */
  duplicates: number;
  failoverMs: number;
}

/** Teams spread over the masters, `TEAMS_PER_MASTER` on each, and the master of each. */
async function teamsOnEveryMaster(cluster: RedisCluster): Promise<Map<string, number>> {
  const teams = new Map<string, number>();
  const perMaster = new Map<number, number>();
  for (let i = 0; teams.size < MASTERS * TEAMS_PER_MASTER; i++) {
    const team = `t${i}`;
    const master = await cluster.masterOf(hashSlot(`{${team}}`));
    if ((perMaster.get(master) ?? 0) >= TEAMS_PER_MASTER) continue;
    perMaster.set(master, (perMaster.get(master) ?? 0) + 1);
    teams.set(team, master);
  }
  return teams;
}

/** What the cluster holds of each team now: message id → seq, read from the streams. */
async function stored(
  cluster: RedisCluster,
  prefix: string,
  teams: string[],
): Promise<{ held: Map<string, number>; duplicates: number }> {
  const live = cluster.endpoints.filter((_, i) => cluster.running(i));
  const reader = new Cluster(live, { redisOptions: { maxRetriesPerRequest: 1 } });
  reader.on('error', () => undefined);
  try {
    const held = new Map<string, number>();
    let duplicates = 0;
    for (const team of teams) {
      const entries = (await reader.xrange(`${prefix}{${team}}:log`, '-', '+')) as StreamEntry[];
      for (const message of entries.map((e) => decodeLogEntry(e))) {
        if (held.has(message.id)) duplicates++;
        held.set(message.id, message.seq);
      }
    }
    return { held, duplicates };
  } finally {
    reader.disconnect();
  }
}

/**
 * A Redis Cluster of three masters with one replica each, two Switchboard nodes on
 * it, a sender per team and node on teams spread over every master. The master of
 * a busy team is killed with -9; the cluster promotes its replica, the nodes follow
 * the new slot map by themselves, and the old master comes back as a replica.
 */
describeWithRedis('a Redis Cluster master killed while clients send', () => {
  const clusters: RedisCluster[] = [];
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
  });

  async function failover(ackReplicas: number): Promise<Outcome> {
    // Each run on a cluster of its own: the other run's kill leaves a master without a
    // replica until it has resynced, and a team's epoch may have moved on.
    const cluster = await RedisCluster.start(MASTERS, { replicas: 1, nodeTimeoutMs: 1000 });
    clusters.push(cluster);
    const teamsByMaster = await teamsOnEveryMaster(cluster);
    const teams = [...teamsByMaster.keys()];
    const { nodes, prefix } = await startFailoverNodes(
      { REDIS_CLUSTER_NODES: cluster.seeds, LOG_LEVEL: 'warn' },
      ackReplicas,
    );
    const tally = newSendTally();
    const phase = { after: false, stop: false };
    // One sender per team on each node: every team crosses nodes, every master is busy.
    const plan = teams.flatMap((team) => nodes.map((node) => ({ team, node })));
    try {
      const senders = plan.map(({ team, node }, i) =>
        sendUntilStopped(node, i, team, tally, phase),
      );
      const ackedOn = (team: string) =>
        [...tally.acked.values()].filter((a) => a.team === team).length;
      await eventually(() => teams.every((t) => ackedOn(t) >= 20), 30_000);

      const busy = teams[0] ?? '';
      const old = teamsByMaster.get(busy) ?? -1;
      const killedAt = Date.now();
      await cluster.kill(old);
      const promoted = await cluster.failedOver(hashSlot(`{${busy}}`), old);
      // Reported, not asserted: how long the busy team's slot had no master.
      const failoverMs = Date.now() - killedAt;
      expect(promoted).not.toBe(old);
      // The old master comes back empty and rejoins as the new one's replica; until its
      // sync is done the new master has no replica to count.
      await cluster.restart(old);
      await cluster.settled(30_000);
      phase.after = true;
      const after = () => plan.map((_, i) => tally.ackedAfter[i] ?? 0);
      // Generous: what is checked is that every sender gets acks again, not how fast.
      await eventually(() => after().every((n) => n >= ACKS_AFTER), 40_000).catch(() => {
        const errors = JSON.stringify(Object.fromEntries(tally.errors));
        throw new Error(`acks after the failover per sender: ${after().join(', ')}; ${errors}`);
      });
      phase.stop = true;
      await Promise.all(senders);

      for (const node of nodes) {
        const ready = () => api(node, 'GET', '/api/ready');
        await eventually(async () => (await ready()).status === 200, 20_000).catch(async () => {
          const logs = node.logs.slice(-12).join('');
          throw new Error(`not ready: ${JSON.stringify((await ready()).body)}\n${logs}`);
        });
      }
      // Delivery across nodes on the promoted master: node b hears what node a sends.
      const listener = await connect(nodes[1]!.socketUrl, { id: 'listener', teamId: busy });
      const talker = await connect(nodes[0]!.socketUrl, { id: 'talker', teamId: busy });
      try {
        await eventually(async () => {
          talker.send({ type: 'team', data: 'after', ref: `after-${randomUUID()}` });
          let answer = await talker.next(undefined, 10_000);
          while (answer.type !== 'ack' && answer.type !== 'error')
            answer = await talker.next(undefined, 10_000);
          return answer.type === 'ack';
        }, 20_000);
        let heard = await listener.next('message', 10_000);
        while (heard['data'] !== 'after') heard = await listener.next('message', 10_000);
      } finally {
        await Promise.all([talker.close(), listener.close()]);
      }

      const { held, duplicates } = await stored(cluster, prefix, teams);
      const lost = [...tally.acked]
        .filter(([, ack]) => held.get(ack.id) !== ack.seq)
        .map(([ref]) => ref);
      return { tally, lost, duplicates, failoverMs };
    } finally {
      phase.stop = true;
      await Promise.all(nodes.map((n) => n.close()));
      await cluster.stop();
    }
  }

  function report(ackReplicas: number, { tally, lost, duplicates, failoverMs }: Outcome): void {
    process.stdout.write(
      `cluster failover, REDIS_ACK_REPLICAS=${ackReplicas}: acked ${tally.acked.size}, ` +
        `acked and lost ${lost.length}, errors ${JSON.stringify(Object.fromEntries(tally.errors))}, ` +
        `stored twice ${duplicates}, reconnects ${tally.reconnects}, ` +
        `slot without a master ${(failoverMs / 1000).toFixed(1)} s\n`,
    );
  }

  test('REDIS_ACK_REPLICAS=1 waits on the master that took the message, slot by slot', async () => {
    const cluster = await RedisCluster.start(MASTERS, { replicas: 1 });
    clusters.push(cluster);
    const teamsByMaster = await teamsOnEveryMaster(cluster);
    const server = await startTestServer({
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_KEY_PREFIX: `w${randomUUID().slice(0, 6)}:`,
      REDIS_ACK_REPLICAS: '1',
      // Long enough for a healthy replica on a loaded machine; the cut one never answers.
      REDIS_ACK_TIMEOUT_MS: '1000',
      RATE_LIMIT_PER_S: '0',
    });
    const clients = new Map<string, TestClient>();
    const answer = async (team: string, ref: string): Promise<Frame> => {
      const client = clients.get(team);
      if (!client) throw new Error(`no client of ${team}`);
      client.send({ type: 'team', data: ref, ref });
      let frame = await client.next(undefined, 10_000);
      while (frame.type !== 'ack' && frame.type !== 'error')
        frame = await client.next(undefined, 10_000);
      return frame;
    };
    try {
      for (const team of teamsByMaster.keys())
        clients.set(team, await connect(server.socketUrl, { id: 'u', teamId: team }));
      let n = 0;
      for (const team of teamsByMaster.keys())
        await eventually(async () => (await answer(team, `probe-${n++}`)).type === 'ack', 20_000);

      // The replica of one master stops replicating: it cannot log in again once its
      // link is cut (no password is set, so one it sends is refused).
      const cut = [...teamsByMaster.keys()][0] ?? '';
      const master = teamsByMaster.get(cut) ?? -1;
      const topology = await cluster.topology();
      const masterId = topology.find((t) => t.port === cluster.nodes[master]?.port)?.id;
      const replica = cluster.nodes.findIndex(
        (node) => topology.find((t) => t.port === node.port)?.master === masterId,
      );
      await cluster.cli(replica, 'config', 'set', 'masterauth', 'not-the-password');
      await cluster.cli(master, 'client', 'kill', 'type', 'replica');
      await eventually(
        async () =>
          (await cluster.cli(master, 'info', 'replication')).includes('connected_slaves:0'),
        10_000,
      );
      for (const [team, owner] of teamsByMaster) {
        const frame = await answer(team, `cut-${n++}`);
        if (owner === master) expect(frame).toMatchObject({ type: 'error', code: 'indeterminate' });
        else expect(frame).toMatchObject({ type: 'ack' });
      }

      await cluster.cli(replica, 'config', 'set', 'masterauth', '');
      await eventually(async () => (await answer(cut, `back-${n++}`)).type === 'ack', 20_000);
    } finally {
      await Promise.all([...clients.values()].map((c) => c.close()));
      await server.close();
      await cluster.stop();
    }
  }, 60_000);

  test('WAIT counts only on the connection that wrote: a fresh one to that master is indeterminate', async () => {
    const cluster = await RedisCluster.start(MASTERS, { replicas: 1 });
    clusters.push(cluster);
    // Made the way the engine makes its command client.
    const cmd = createRedisClient(
      { kind: 'cluster', nodes: cluster.endpoints, tls: false },
      'test',
      pino({ level: 'silent' }),
    );
    if (!(cmd instanceof Cluster)) throw new Error('not a cluster client');
    try {
      expect(await waitReady(cmd, 20_000)).toBe(true);
      let socket: object | undefined;
      await sendKnowingOutcome(cmd, 'set', ['{w}k', '1'], (s) => (socket = s));
      expect(await waitOnWritingConnection(cmd, socket, 1, 5000)).toBeUndefined();

      // The connection that wrote closes; the master, its replica and the slot stay as
      // they were, and the client reaches the master again on a new connection.
      const writer = cmd.nodes('master').find((n) => n.stream === socket);
      expect(writer).toBeDefined();
      writer?.disconnect();
      await eventually(async () => (await cmd.get('{w}k')) === '1', 20_000);
      expect(await waitOnWritingConnection(cmd, socket, 1, 1000)).toMatchObject({
        code: 'indeterminate',
      });
      expect(await waitOnWritingConnection(cmd, undefined, 1, 1000)).toMatchObject({
        code: 'indeterminate',
      });
    } finally {
      cmd.disconnect();
      await cluster.stop();
    }
  }, 60_000);

  test('REDIS_ACK_REPLICAS=1: no acked message is lost, the nodes follow the promotion', async () => {
    const result = await failover(1);
    report(1, result);
    expect(result.lost).toEqual([]);
    expect(
      [...result.tally.errors.keys()].every((c) => ['unavailable', 'indeterminate'].includes(c)),
    ).toBe(true);
  }, 120_000);

  test('REDIS_ACK_REPLICAS=0: the nodes follow the promotion; acked messages lost are counted', async () => {
    const result = await failover(0);
    report(0, result);
    expect(
      [...result.tally.errors.keys()].every((c) => ['unavailable', 'indeterminate'].includes(c)),
    ).toBe(true);
    expect(result.lost.length).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
