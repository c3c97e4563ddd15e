import { randomUUID } from 'node:crypto';
import { hashSlot } from '../../services/redis/slot';
import { RedisCluster } from '../../support/redis-cluster';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { untilAcked } from '../helpers/until-acked';
import { describeWithRedis } from '../helpers/redis-server';
import { api, startTestServer, type TestServer } from '../helpers/server';

/**
 * REDIS_ACK_REPLICAS on a Redis Cluster: publishes (script, then WAIT) go through a
 * cluster client of their own, so a WAIT held up by a frozen replica leaves the
 * node's other commands to that master (presence, history, bans) unhindered.
 */
describeWithRedis('replicated acks on a Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  let server: TestServer | undefined;
  let paused: number | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, { replicas: 1 });
  }, 120_000);
  afterEach(async () => {
    if (paused !== undefined) cluster?.resume(paused);
    paused = undefined;
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
    server = undefined;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('a publish waiting on a frozen replica holds up no other command to its master', async () => {
    const c = cluster!;
    const team = 'A';
    const master = await c.masterOf(hashSlot(`{${team}}`));
    const topology = await c.topology();
    const masterId = topology.find((n) => n.port === c.nodes[master]?.port)?.id;
    const replicaPort = topology.find((n) => n.master === masterId)?.port;
    const replica = c.nodes.findIndex((n) => n.port === replicaPort);
    expect(replica).toBeGreaterThanOrEqual(0);
    server = await startTestServer({
      REDIS_CLUSTER_NODES: c.seeds,
      REDIS_KEY_PREFIX: `c${randomUUID().slice(0, 6)}:`,
      REDIS_ACK_REPLICAS: '1',
      // WAIT may block for 20 s: long enough that only the replica's return can end it here.
      REDIS_ACK_TIMEOUT_MS: '20000',
      REDIS_COMMAND_TIMEOUT_MS: '30000',
      // No lease renewal (a write) during the test.
      PRESENCE_LEASE_MS: '60000',
    });
    const sender = await connect(server.socketUrl, { id: 'u1', teamId: team });
    const watcher = await connect(server.socketUrl, { id: 'u2', teamId: team });
    clients.push(sender, watcher);
    await untilAcked(sender);

    c.pause(replica);
    paused = replica;
    sender.send({ type: 'team', data: 'held', ref: 'h1' });
    // The publish's WAIT is blocked on the team's master.
    const waiting = async () => (await c.cli(master, 'client', 'list')).includes('cmd=wait');
    await eventually(waiting, 10_000);

    // A history read and a presence request go to that master on the command client,
    // and are answered meanwhile; the history holds the message (the master ran the
    // script, only the replica's word is missing).
    const res = await api(server, 'GET', `/api/teams/${team}/messages`);
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('"held"');
    watcher.send({ type: 'presence' });
    const members = await watcher.next('members');
    expect(members['members']).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'u1' })]),
    );
    // Both answered while the WAIT still blocks, not after it gave up.
    expect(await waiting()).toBe(true);
    expect(sender.take('ack')).toEqual([]);
    expect(sender.take('error')).toEqual([]);

    c.resume(replica);
    paused = undefined;
    expect(await sender.next('ack', 30_000)).toMatchObject({ ref: 'h1' });
  }, 120_000);
});
