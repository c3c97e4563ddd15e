import { decodeLogEntry, type StreamEntry } from '../../services/redis/payload';
import { SentinelGroup } from '../../support/sentinel-group';
import { eventually } from '../helpers/eventually';
import {
  newSendTally,
  sendUntilStopped,
  startFailoverNodes,
  type SendTally,
} from '../helpers/failover-sender';
import { describeWithRedis } from '../helpers/redis-server';
import { api } from '../helpers/server';

const TEAM = 'T';
const PASSWORD = 'server-secret-0123';
const SENTINEL_PASSWORD = 'sentinel-secret-4567';
const SENDERS = 4;
/** Acks each sender must get from the new master before the run ends: the node recovered. */
const ACKS_AFTER = 10;

/** What the current master holds of the team: the stream, read whole. */
async function stored(group: SentinelGroup, prefix: string): Promise<Map<string, number>> {
  const redis = await group.masterClient();
  try {
    const entries = (await redis.xrange(`${prefix}{${TEAM}}:log`, '-', '+')) as StreamEntry[];
    return new Map(entries.map((e) => decodeLogEntry(e)).map((m) => [m.id, m.seq]));
  } finally {
    redis.disconnect();
  }
}

/**
 * A Sentinel group (one master, one replica, three sentinels), two Switchboard
 * nodes on it, four clients sending while the master is killed with -9. The nodes
 * follow the failover by themselves; the old master comes back as a replica.
 */
describeWithRedis('a Sentinel failover while clients send', () => {
  let group: SentinelGroup;

  beforeAll(async () => {
    // Passwords on both the servers and the sentinels: the node must give each its own.
    group = await SentinelGroup.start({
      downAfterMs: 1000,
      failoverTimeoutMs: 3000,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
    });
  }, 30_000);
  afterAll(async () => {
    await group?.stop();
  });

  async function failover(ackReplicas: number): Promise<{ tally: SendTally; lost: string[] }> {
    await group.settled();
    const { nodes, prefix } = await startFailoverNodes(
      {
        REDIS_SENTINELS: group.endpoints,
        REDIS_SENTINEL_NAME: group.name,
        REDIS_PASSWORD: PASSWORD,
        REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
        // Info: a failure message shows the node's reconnections.
        LOG_LEVEL: 'info',
      },
      ackReplicas,
    );
    const tally = newSendTally();
    const phase = { after: false, stop: false };
    try {
      const senders = Array.from({ length: SENDERS }, (_, i) =>
        sendUntilStopped(nodes[i % nodes.length]!, i, TEAM, tally, phase),
      );
      await eventually(() => tally.acked.size >= 200, 10_000);

      const old = await group.master();
      await old.kill();
      await group.failedOver(old.port);
      // The old master comes back empty; the sentinels make it a replica of the new one.
      await old.restart();
      await group.settled(30_000);
      phase.after = true;
      const after = () => Array.from({ length: SENDERS }, (_, i) => tally.ackedAfter[i] ?? 0);
      // Generous: on a loaded machine the nodes' reconnect backoff and the replica's sync
      // take seconds; what is checked is that they come back, not how fast.
      await eventually(() => after().every((n) => n >= ACKS_AFTER), 40_000).catch(async () => {
        const errors = JSON.stringify(Object.fromEntries(tally.errors));
        throw new Error(
          `acks after the failover per sender: ${after().join(', ')}; ${errors}; ` +
            (await group.state()),
        );
      });
      phase.stop = true;
      await Promise.all(senders);

      for (const node of nodes) {
        const ready = () => api(node, 'GET', '/api/ready');
        await eventually(async () => (await ready()).status === 200, 20_000).catch(async () => {
          const logs = node.logs
            .filter((l) => l.includes('redis'))
            .slice(-16)
            .join('');
          const body = JSON.stringify((await ready()).body);
          throw new Error(`not ready: ${body}; ${await group.state()}\n${logs}`);
        });
      }
      const held = await stored(group, prefix);
      const lost = [...tally.acked]
        .filter(([, ack]) => held.get(ack.id) !== ack.seq)
        .map(([ref]) => ref);
      if (lost.length > 0) process.stdout.write(`after a loss: ${await group.state()}\n`);
      return { tally, lost };
    } finally {
      phase.stop = true;
      await Promise.all(nodes.map((n) => n.close()));
    }
  }

  function report(
    ackReplicas: number,
    { tally, lost }: { tally: SendTally; lost: string[] },
  ): void {
    process.stdout.write(
      `sentinel failover, REDIS_ACK_REPLICAS=${ackReplicas}: acked ${tally.acked.size}, ` +
        `acked and lost ${lost.length}, errors ${JSON.stringify(Object.fromEntries(tally.errors))}, ` +
        `reconnects ${tally.reconnects}\n`,
    );
  }

  test('REDIS_ACK_REPLICAS=1: no acked message is lost, no false ack, the nodes recover', async () => {
    const result = await failover(1);
    report(1, result);
    expect(result.lost).toEqual([]);
    expect(
      [...result.tally.errors.keys()].every((c) => ['unavailable', 'indeterminate'].includes(c)),
    ).toBe(true);
    // The kill was seen: some sends were refused or left undecided while the master was gone.
    expect(result.tally.errors.size).toBeGreaterThan(0);
  }, 90_000);

  test('REDIS_ACK_REPLICAS=0: the nodes recover; acked messages lost are counted', async () => {
    const result = await failover(0);
    report(0, result);
    expect(
      [...result.tally.errors.keys()].every((c) => ['unavailable', 'indeterminate'].includes(c)),
    ).toBe(true);
    expect(result.lost.length).toBeGreaterThanOrEqual(0);
  }, 90_000);
});
