import { rmSync } from 'node:fs';
import { kill9 } from '../../support/managed';
import { startNode, type StartedNode } from '../../support/node-process';
import { buildServerOnce } from '../helpers/build-server-once';
import { RedisCluster } from '../../support/redis-cluster';
import { SentinelGroup } from '../../support/sentinel-group';
import { makeTlsFiles, type TlsFiles } from '../../support/tls-certs';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * REDIS_TLS=true where a URL cannot say it: a Sentinel group and a Redis Cluster
 * that speak TLS only (clients, replication, the sentinels' own port, the cluster
 * bus), their certificates signed by a private CA the node trusts through
 * NODE_EXTRA_CA_CERTS. A node that did not really speak TLS, or did not verify,
 * would never become ready.
 */
describeWithRedis('Redis over TLS: Sentinel and Cluster', () => {
  let files: TlsFiles;
  const clients: TestClient[] = [];
  const nodes: StartedNode[] = [];

  beforeAll(() => {
    buildServerOnce();
    files = makeTlsFiles();
  }, 60_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(nodes.splice(0).map((n) => kill9(n)));
  });

  afterAll(() => {
    rmSync(files.dir, { recursive: true, force: true });
  });

  async function ready(node: StartedNode): Promise<boolean> {
    const res = await fetch(`http://127.0.0.1:${node.port}/api/ready`);
    return res.status === 200;
  }

  async function start(env: Record<string, string>): Promise<StartedNode> {
    const node = await startNode({
      ...env,
      REDIS_TLS: 'true',
      NODE_EXTRA_CA_CERTS: files.ca,
      REDIS_COMMAND_TIMEOUT_MS: '3000',
    });
    nodes.push(node);
    await eventually(() => ready(node), 30_000);
    return node;
  }

  /** A message from one member reaches a teammate and is acked; the team's own key. */
  async function roundTrip(node: StartedNode, teamId: string, text: string): Promise<void> {
    const base = `ws://127.0.0.1:${node.port}/socket`;
    const sender = await connect(base, { id: `${teamId}-a`, teamId });
    clients.push(sender);
    const teammate = await connect(base, { id: `${teamId}-b`, teamId });
    clients.push(teammate);
    sender.send({ type: 'team', data: { text }, ref: text });
    expect((await sender.next('ack', 10_000))['ref']).toBe(text);
    expect((await teammate.next('message', 10_000))['data']).toEqual({ text });
  }

  it('follows a Sentinel failover with every link over TLS', async () => {
    const group = await SentinelGroup.start({ tls: files, downAfterMs: 1000 });
    try {
      const node = await start({
        REDIS_SENTINELS: group.endpoints,
        REDIS_SENTINEL_NAME: group.name,
        NODE_ID: 'tls-sentinel',
      });
      await roundTrip(node, 'before', 'before failover');

      const old = await group.master();
      await old.kill();
      await group.failedOver(old.port);
      // The node asked the sentinels (over TLS) for the new master and reached it (TLS).
      await eventually(async () => {
        const probe = await connect(`ws://127.0.0.1:${node.port}/socket`, {
          id: 'probe',
          teamId: 'probe',
        }).catch(() => undefined);
        if (probe === undefined) return false;
        probe.send({ type: 'team', data: { text: 'probe' }, ref: 'p' });
        // An ack, or an error (`unavailable`) while the node is still on its way over.
        let answer: string | undefined;
        while (answer === undefined) {
          const frame = await probe.next(undefined, 5_000).catch(() => undefined);
          if (frame === undefined) break;
          if (frame.type === 'ack' || frame.type === 'error') answer = frame.type;
        }
        await probe.close();
        return answer === 'ack';
      }, 30_000);
      await roundTrip(node, 'after', 'after failover');
      expect(node.errors).toEqual([]);
    } finally {
      await group.stop();
    }
  }, 120_000);

  it('serves teams on every master of a Redis Cluster over TLS', async () => {
    const cluster = await RedisCluster.start(3, { tls: files });
    try {
      const node = await start({ REDIS_CLUSTER_NODES: cluster.seeds, NODE_ID: 'tls-cluster' });
      // Enough teams that every master serves some (slots are spread evenly).
      const teams = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
      const masters = new Set(
        await Promise.all(
          teams.map(async (t) =>
            cluster.masterOf(Number(await cluster.cli(0, 'cluster', 'keyslot', t))),
          ),
        ),
      );
      expect(masters.size).toBe(3);
      for (const team of teams) await roundTrip(node, team, `hello ${team}`);
      expect(node.errors).toEqual([]);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
