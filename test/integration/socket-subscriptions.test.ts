/**
 * Several teams on one connection (docs/PROTOCOL.md §7): every frame, on both
 * engines (this file runs in the memory and the redis jest projects).
 */
import { SignJWT } from 'jose';
import { connect, type Frame, type TestClient } from '../helpers/client';
import { api, startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;
const clients: TestClient[] = [];

async function open(id: string, teamId: string, extra: { token?: string } = {}) {
  const client = await connect(server.socketUrl, { id, name: id, teamId, ...extra });
  clients.push(client);
  return client;
}

async function subscribe(client: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  client.send({ type: 'subscribe', ...frame });
  return client.next('subscribed');
}

async function publish(client: TestClient, data: unknown, teamId?: string): Promise<Frame> {
  client.send({ type: 'team', data, ...(teamId === undefined ? {} : { teamId }) });
  return client.next('ack');
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

describe('subscribe and unsubscribe', () => {
  beforeEach(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_S: '0', MAX_TEAMS_PER_CONNECTION: '3' });
  });

  test('a subscriber gets the other team, each message naming its team', async () => {
    const bob = await open('bob', 'B');
    const ann = await open('ann', 'A');
    await publish(bob, 'before');
    const subscribed = await subscribe(ann, { teamId: 'B' });
    expect(subscribed).toEqual({
      type: 'subscribed',
      teamId: 'B',
      seq: 1,
      epoch: expect.any(String),
    });
    await publish(bob, 'to B');
    const home = await open('cat', 'A');
    await publish(home, 'to A');
    expect(await ann.next('message')).toMatchObject({ teamId: 'B', seq: 2, data: 'to B' });
    expect(await ann.next('message')).toMatchObject({ teamId: 'A', seq: 1, data: 'to A' });
  });

  test('team, direct, presence and history act on the team named', async () => {
    const bob = await open('bob', 'B');
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    const ack = await publish(ann, 'hi B', 'B');
    expect(ack).toMatchObject({ seq: 1 });
    expect(await bob.next('message')).toMatchObject({
      teamId: 'B',
      from: { id: 'ann', name: 'ann' },
      data: 'hi B',
    });
    ann.send({ type: 'direct', to: 'bob', data: 'just you', teamId: 'B' });
    await ann.next('ack');
    expect(await bob.next('message')).toMatchObject({ teamId: 'B', to: 'bob', data: 'just you' });

    ann.send({ type: 'presence', teamId: 'B' });
    const members = await ann.next('members');
    expect(members['teamId']).toBe('B');
    expect(members['members']).toEqual(
      expect.arrayContaining([
        { id: 'ann', name: 'ann', connections: 1 },
        { id: 'bob', name: 'bob', connections: 1 },
      ]),
    );
    ann.send({ type: 'history', teamId: 'B' });
    const history = await ann.next('history');
    expect(history).toMatchObject({ teamId: 'B', more: false });
    expect((history['messages'] as Frame[]).map((m) => m['data'])).toEqual(['hi B', 'just you']);

    // Without teamId: the home team, as always.
    ann.send({ type: 'history' });
    expect(await ann.next('history')).toMatchObject({ teamId: 'A', messages: [] });
  });

  test('the team sees the subscriber join and leave', async () => {
    const bob = await open('bob', 'B');
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    expect(await bob.next('presence')).toEqual({
      type: 'presence',
      event: 'join',
      teamId: 'B',
      user: { id: 'ann', name: 'ann' },
    });
    bob.send({ type: 'presence' });
    expect((await bob.next('members'))['members']).toHaveLength(2);
    ann.send({ type: 'unsubscribe', teamId: 'B' });
    expect(await ann.next('unsubscribed')).toEqual({ type: 'unsubscribed', teamId: 'B' });
    expect(await bob.next('presence')).toMatchObject({ event: 'leave', teamId: 'B' });
  });

  test('after unsubscribe nothing of the team arrives, and acting on it is forbidden', async () => {
    const bob = await open('bob', 'B');
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    ann.send({ type: 'unsubscribe', teamId: 'B' });
    await ann.next('unsubscribed');
    await publish(bob, 'after');
    ann.send({ type: 'team', data: 'x', teamId: 'B', ref: 'r1' });
    expect(await ann.next('error')).toEqual({
      type: 'error',
      code: 'forbidden',
      message: expect.stringContaining('not subscribed'),
      ref: 'r1',
    });
    await ann.sync();
    expect(ann.take('message')).toEqual([]);
  });

  test('frames about a team never followed are forbidden', async () => {
    const ann = await open('ann', 'A');
    for (const frame of [
      { type: 'team', data: 1, teamId: 'Z' },
      { type: 'direct', to: 'x', data: 1, teamId: 'Z' },
      { type: 'presence', teamId: 'Z' },
      { type: 'history', teamId: 'Z' },
    ]) {
      ann.send(frame);
      expect(await ann.next('error')).toMatchObject({ code: 'forbidden' });
    }
  });

  test('the home team cannot be left or subscribed again; a second subscribe is refused', async () => {
    const ann = await open('ann', 'A');
    ann.send({ type: 'unsubscribe', teamId: 'A' });
    expect(await ann.next('error')).toMatchObject({ code: 'bad_request' });
    ann.send({ type: 'subscribe', teamId: 'A' });
    expect(await ann.next('error')).toMatchObject({ code: 'bad_request' });
    await subscribe(ann, { teamId: 'B' });
    ann.send({ type: 'subscribe', teamId: 'B' });
    expect(await ann.next('error')).toMatchObject({ code: 'bad_request' });
    // Leaving a team not followed is no error.
    ann.send({ type: 'unsubscribe', teamId: 'Q' });
    expect(await ann.next('unsubscribed')).toEqual({ type: 'unsubscribed', teamId: 'Q' });
  });

  test('MAX_TEAMS_PER_CONNECTION counts the home team', async () => {
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    await subscribe(ann, { teamId: 'C' });
    ann.send({ type: 'subscribe', teamId: 'D' });
    expect(await ann.next('error')).toMatchObject({
      code: 'bad_request',
      message: expect.stringContaining('at most 3'),
    });
    ann.send({ type: 'unsubscribe', teamId: 'C' });
    await ann.next('unsubscribed');
    expect(await subscribe(ann, { teamId: 'D' })).toMatchObject({ teamId: 'D' });
  });

  test('a malformed subscribe is a bad_request', async () => {
    const ann = await open('ann', 'A');
    ann.send({ type: 'subscribe' });
    expect(await ann.next('error')).toMatchObject({ code: 'bad_request' });
    ann.send({ type: 'subscribe', teamId: 'bad team' });
    expect(await ann.next('error')).toMatchObject({ code: 'bad_request' });
  });

  test('subscribe with since/epoch replays what was missed, then resumed with teamId', async () => {
    const bob = await open('bob', 'B');
    await publish(bob, 'one');
    const ann = await open('ann', 'A');
    const first = await subscribe(ann, { teamId: 'B' });
    ann.send({ type: 'unsubscribe', teamId: 'B' });
    await ann.next('unsubscribed');
    await publish(bob, 'two');
    await publish(bob, 'three');
    const again = await subscribe(ann, { teamId: 'B', since: 1, epoch: first['epoch'] });
    expect(again).toMatchObject({ teamId: 'B', seq: 3 });
    expect(await ann.next()).toMatchObject({ type: 'message', teamId: 'B', seq: 2 });
    expect(await ann.next()).toMatchObject({ type: 'message', teamId: 'B', seq: 3 });
    expect(await ann.next()).toEqual({
      type: 'resumed',
      teamId: 'B',
      since: 1,
      seq: 3,
      complete: true,
    });
    await publish(bob, 'four');
    expect(await ann.next()).toMatchObject({ type: 'message', teamId: 'B', seq: 4 });
  });

  test('a resume of another epoch is incomplete', async () => {
    const bob = await open('bob', 'B');
    await publish(bob, 'one');
    const ann = await open('ann', 'A');
    ann.send({ type: 'subscribe', teamId: 'B', since: 1, epoch: 'gone' });
    await ann.next('subscribed');
    expect(await ann.next('resumed')).toMatchObject({ teamId: 'B', complete: false });
  });

  test('the home resume names its team too', async () => {
    const bob = await open('bob', 'B');
    await publish(bob, 'one');
    const again = await open('bob', 'B');
    const resumed = await connect(server.socketUrl, {
      id: 'bob',
      name: 'bob',
      teamId: 'B',
      since: 0,
      epoch: again.welcome['epoch'] as string,
    });
    clients.push(resumed);
    expect(await resumed.next('resumed')).toMatchObject({ teamId: 'B', since: 0, seq: 1 });
  });
});

describe('admin API and bans', () => {
  beforeEach(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_S: '0' });
  });

  test('GET /api/teams/:teamId counts subscribers; listings show each team of a connection', async () => {
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    const team = await api(server, 'GET', '/api/teams/B');
    expect(team.status).toBe(200);
    expect(team.body['members']).toEqual([{ id: 'ann', name: 'ann', connections: 1 }]);
    const teams = await api<{ teams: { id: string; online: number }[] }>(
      server,
      'GET',
      '/api/teams',
    );
    expect(teams.body.teams.find((t) => t.id === 'B')).toMatchObject({ online: 1 });

    const connId = ann.welcome['connId'];
    const rows = await api<{ connections: Record<string, unknown>[] }>(
      server,
      'GET',
      '/api/connections?userId=ann',
    );
    expect(rows.body.connections).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ connId, teamId: 'A' }),
        expect.objectContaining({ connId, teamId: 'B', homeTeamId: 'A' }),
      ]),
    );
    expect(rows.body.connections).toHaveLength(2);
    const inB = await api<{ connections: Record<string, unknown>[] }>(
      server,
      'GET',
      '/api/connections?teamId=B',
    );
    expect(inB.body.connections).toEqual([
      expect.objectContaining({ connId, teamId: 'B', homeTeamId: 'A' }),
    ]);

    ann.send({ type: 'unsubscribe', teamId: 'B' });
    await ann.next('unsubscribed');
    expect((await api(server, 'GET', '/api/teams/B')).body['members']).toEqual([]);
  });

  test('DELETE of a subscription entry id closes the connection it belongs to', async () => {
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    const connId = String(ann.welcome['connId']);
    // The presence entry of the subscription: GET /api/connections/... and kicks find it.
    const kick = await api(server, 'DELETE', `/api/connections/${connId}@B`);
    expect(kick.status).toBe(204);
    expect((await ann.waitClose()).code).toBe(4000);
  });

  test('closing the socket ends its subscriptions', async () => {
    const bob = await open('bob', 'B');
    const ann = await connect(server.socketUrl, { id: 'ann', name: 'ann', teamId: 'A' });
    await subscribe(ann, { teamId: 'B' });
    await bob.next('presence');
    await ann.close();
    expect(await bob.next('presence')).toMatchObject({ event: 'leave', teamId: 'B' });
    expect((await api(server, 'GET', '/api/teams/B')).body['members']).toEqual([
      { id: 'bob', name: 'bob', connections: 1 },
    ]);
  });

  test('a ban on a subscribed team ends that subscription; the socket stays', async () => {
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    const ban = await api(server, 'POST', '/api/bans', { body: { userId: 'ann', teamId: 'B' } });
    expect(ban.status).toBe(201);
    expect(await ann.next('unsubscribed')).toEqual({ type: 'unsubscribed', teamId: 'B' });
    ann.send({ type: 'subscribe', teamId: 'B' });
    expect(await ann.next('error')).toMatchObject({ code: 'forbidden' });
    await ann.sync();
    expect(ann.closed).toBeUndefined();
  });

  test('a ban on the home team still closes the socket with 4003', async () => {
    const ann = await open('ann', 'A');
    await subscribe(ann, { teamId: 'B' });
    await api(server, 'POST', '/api/bans', { body: { userId: 'ann', teamId: 'A' } });
    expect((await ann.waitClose()).code).toBe(4003);
  });
});

describe('with AUTH_SECRET', () => {
  const SECRET = 'subscriptions-secret-at-least-32-chars!';
  const key = new TextEncoder().encode(SECRET);
  const token = (claims: Record<string, unknown>) =>
    new SignJWT({ sub: 'ann', team: 'A', ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
      .sign(key);

  beforeEach(async () => {
    server = await startTestServer({ AUTH_SECRET: SECRET });
  });

  test('only the teams of the token’s teams claim may be subscribed', async () => {
    const ann = await open('ann', 'A', { token: await token({ teams: ['B'] }) });
    expect(await subscribe(ann, { teamId: 'B' })).toMatchObject({ teamId: 'B' });
    ann.send({ type: 'subscribe', teamId: 'C' });
    expect(await ann.next('error')).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('C'),
    });
  });

  test('without a teams claim, no other team', async () => {
    const ann = await open('ann', 'A', { token: await token({}) });
    ann.send({ type: 'subscribe', teamId: 'B' });
    expect(await ann.next('error')).toMatchObject({ code: 'forbidden' });
  });
});
