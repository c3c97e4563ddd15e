import { hashSlot } from '../../services/redis/slot';
import { RedisCluster } from '../../support/redis-cluster';
import { connect, type TestClient } from '../helpers/client';
import { describeWithRedis } from '../helpers/redis-server';
import { startTestServer, type TestServer } from '../helpers/server';

/** A team whose slot is the lowest one master 0 serves (slot 0): reshard moves it first. */
function teamInSlotZero(): string {
  for (let i = 0; ; i++) if (hashSlot(`reshard-${i}`) === 0) return `reshard-${i}`;
}

/**
 * An operator moves a team's hash slot to another master while its messages flow:
 * MOVED/ASK/TRYAGAIN are followed, and the shard channel follows its slot.
 */
describeWithRedis('a team’s slot migrates while messages flow', () => {
  let cluster: RedisCluster;
  let n1: TestServer;
  let n2: TestServer;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    const env = (node: string) => ({
      REDIS_CLUSTER_NODES: cluster.seeds,
      NODE_ID: node,
      RATE_LIMIT_PER_S: '0',
    });
    n1 = await startTestServer(env('n1'));
    n2 = await startTestServer(env('n2'));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await n1?.close();
    await n2?.close();
    await cluster?.stop();
  });

  test('every message is acked once and delivered on the other node in seq order', async () => {
    const team = teamInSlotZero();
    expect(await cluster.ownerOf(0)).toBe(0);
    const sender = await connect(n1.socketUrl, { id: 'sender', teamId: team });
    const receiver = await connect(n2.socketUrl, { id: 'receiver', teamId: team });
    clients.push(sender, receiver);
    let sent = 0;
    let moving = true;
    const traffic = (async () => {
      // Sends while the slot moves, and a few after, one at a time: each must be acked.
      for (let after = 0; moving || after < 20; sent++) {
        sender.send({ type: 'team', data: sent, ref: `m${sent}` });
        let reply = await sender.next();
        while (reply.type !== 'ack' && reply.type !== 'error') reply = await sender.next();
        if (reply.type !== 'ack') throw new Error(`not acked: ${JSON.stringify(reply)}`);
        expect(reply['seq']).toBe(sent + 1);
        if (!moving) after++;
      }
    })();
    await cluster.reshard(0, 1, 1);
    moving = false;
    await traffic;
    expect(await cluster.ownerOf(0)).toBe(1);
    const seqs: number[] = [];
    for (let i = 0; i < sent; i++) seqs.push((await receiver.next('message'))['seq'] as number);
    expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    expect(receiver.take('gap')).toEqual([]);
  }, 60_000);
});
