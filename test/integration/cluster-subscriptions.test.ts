/**
 * Subscriptions (docs/PROTOCOL.md §10) across nodes on one Redis: a node receives
 * every team one of its connections follows, and after a node is killed a client
 * resumes every team it followed on a survivor.
 */
import { connect, type Frame, type TestClient } from '../helpers/client';
import { useProcessNodes } from '../helpers/process-nodes';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { useTwoNodes } from '../helpers/two-nodes';

const LEASE_MS = 1000;

async function subscribe(client: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  client.send({ type: 'subscribe', ...frame });
  return client.next('subscribed');
}

/** Frames up to and including the `resumed` of `teamId`; fails on one that is not a message of it. */
async function replayOf(client: TestClient, teamId: string): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const frame = await client.next();
    if (frame.type === 'resumed') {
      expect(frame).toMatchObject({ teamId, complete: true });
      return seqs;
    }
    expect(frame).toMatchObject({ type: 'message', teamId });
    seqs.push(frame['seq'] as number);
  }
}

const range = (first: number, last: number) =>
  Array.from({ length: last - first + 1 }, (_, i) => first + i);

describeWithRedis('subscriptions across in-process nodes', () => {
  const redis = useRedisServer();
  const env = (node: string) => ({
    REDIS_URL: redis.server.url,
    NODE_ID: node,
    PRESENCE_LEASE_MS: String(LEASE_MS),
    RATE_LIMIT_PER_S: '0',
  });

  const nodes = useTwoNodes(env);
  const { open } = nodes;

  test('a team only another node holds reaches a subscriber, both ways, with presence', async () => {
    const bob = await open(nodes.n2, 'bob', 'far');
    const ann = await open(nodes.n1, 'ann', 'home');
    await subscribe(ann, { teamId: 'far' });
    expect(await bob.next('presence')).toMatchObject({
      event: 'join',
      teamId: 'far',
      user: { id: 'ann' },
    });
    bob.send('from bob');
    await bob.next('ack');
    expect(await ann.next('message')).toMatchObject({ teamId: 'far', data: 'from bob' });
    ann.send({ type: 'team', teamId: 'far', data: 'from ann' });
    expect(await ann.next('ack')).toMatchObject({ seq: 2 });
    expect(await bob.next('message')).toMatchObject({ teamId: 'far', seq: 2, data: 'from ann' });

    ann.send({ type: 'unsubscribe', teamId: 'far' });
    await ann.next('unsubscribed');
    expect(await bob.next('presence')).toMatchObject({ event: 'leave', teamId: 'far' });
    bob.send('after');
    await bob.next('ack');
    await ann.sync();
    expect(ann.take('message')).toEqual([]);
  });
});

/** Separate OS processes, one killed with SIGKILL (see cluster-process.test.ts). */
describeWithRedis('subscriptions across OS processes', () => {
  const { clients, node } = useProcessNodes('subscriptions-process-admin-token', LEASE_MS);

  test('kill -9: the subscriptions leave, and every team resumes on a survivor with no gap', async () => {
    const a = await node('sub-a', { RATE_LIMIT_PER_S: '0' });
    const b = await node('sub-b', { RATE_LIMIT_PER_S: '0' });
    const teams = ['H', 'S1', 'S2'];
    const writers = new Map<string, TestClient>();
    for (const team of teams) {
      const writer = await connect(b.url, { id: `w-${team}`, teamId: team });
      clients.push(writer);
      writers.set(team, writer);
    }
    const victim = await connect(a.url, { id: 'victim', teamId: 'H' });
    const heads = new Map<string, { seq: number; epoch: string }>();
    heads.set('H', { seq: 0, epoch: victim.welcome['epoch'] as string });
    for (const team of ['S1', 'S2']) {
      const subscribed = await subscribe(victim, { teamId: team });
      heads.set(team, { seq: 0, epoch: subscribed['epoch'] as string });
    }
    for (const team of teams) {
      const writer = writers.get(team)!;
      writer.send({ type: 'team', data: 'seen' });
      await writer.next('ack');
      expect(await victim.next('message')).toMatchObject({ teamId: team, seq: 1 });
      heads.get(team)!.seq = 1;
    }

    a.proc.child.kill('SIGKILL');
    await victim.waitClose();
    for (const team of teams) {
      const writer = writers.get(team)!;
      for (let i = 0; i < 5; i++) writer.send({ type: 'team', data: i });
      for (let i = 0; i < 5; i++) await writer.next('ack');
    }
    // The sweep ends the victim's subscriptions in every team it followed, not just its home.
    for (const team of teams) {
      expect(await writers.get(team)!.next('presence', 2 * LEASE_MS + 2000)).toMatchObject({
        event: 'leave',
        teamId: team,
        user: { id: 'victim' },
      });
    }

    const home = heads.get('H')!;
    const back = await connect(b.url, {
      id: 'victim',
      teamId: 'H',
      since: home.seq,
      epoch: home.epoch,
    });
    clients.push(back);
    expect(await replayOf(back, 'H')).toEqual(range(2, 6));
    for (const team of ['S1', 'S2']) {
      const head = heads.get(team)!;
      expect(
        await subscribe(back, { teamId: team, since: head.seq, epoch: head.epoch }),
      ).toMatchObject({ teamId: team, seq: 6 });
      expect(await replayOf(back, team)).toEqual(range(2, 6));
    }
    // Live again in every team.
    for (const team of teams) {
      writers.get(team)!.send({ type: 'team', data: 'live' });
      expect(await back.next('message')).toMatchObject({ teamId: team, seq: 7, data: 'live' });
    }
  }, 30000);
});
