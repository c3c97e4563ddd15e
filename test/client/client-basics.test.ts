import type { Config } from '../../app/config';
import type { Engine } from '../../app/engine';
import { createMemoryEngine } from '../../app/memory-engine';
import pino from 'pino';
import { SwitchboardClient, SwitchboardError } from '../../client/switchboard-client';
import { AppError } from '../../services/errors';
import { api, startTestServer, type TestServer } from '../helpers/server';
import { closeClients, record, until } from './harness';

interface Chat {
  text: string;
  n?: number;
}

let server: TestServer;
let releaseHung: () => void = () => undefined;

/**
 * The memory engine, except that a message whose data is "fail" is refused as if
 * the backend were down, one whose data is "hang" is never stored until the test
 * ends, and the first one whose data is "unsure" is stored but answered
 * `indeterminate`, as after a Redis timeout: the error and timeout paths of a real
 * server.
 */
function faultyEngine(config: Config): Engine {
  const engine = createMemoryEngine(config, pino({ level: 'silent' }));
  const publishOnce = engine.bus.publishOnce.bind(engine.bus);
  const hung = new Promise<void>((resolve) => (releaseHung = resolve));
  let unsure = 0;
  engine.bus.publishOnce = async (draft, key) => {
    if (draft.data === 'fail') throw new AppError('unavailable', 'test: backend down');
    if (draft.data === 'unsure' && unsure++ === 0) {
      await publishOnce(draft, key);
      throw new AppError('indeterminate', 'test: no answer in time');
    }
    if (draft.data === 'hang') await hung;
    return publishOnce(draft, key);
  };
  return engine;
}

afterEach(async () => {
  closeClients();
  releaseHung();
  await server.close();
});

describe('client library against a real server', () => {
  beforeEach(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_S: '0' }, faultyEngine);
  });

  test('connects, sends with an ack, and the team receives typed messages', async () => {
    const ann = record<Chat>(server.socketUrl, { id: 'ann', name: 'Ann', teamId: 'T' });
    const bob = record<Chat>(server.socketUrl, { id: 'bob', name: 'Bob 张三', teamId: 'T' });
    const welcome = await ann.client.connect();
    expect(welcome).toMatchObject({ user: { id: 'ann', name: 'Ann' }, teamId: 'T', seq: 0 });
    expect(ann.client.state).toBe('open');
    await bob.client.connect();

    const ack = await ann.client.send({ text: 'hello', n: 1 });
    expect(ack).toEqual({ ref: expect.any(String), id: expect.any(String), seq: 1 });
    await until(() => bob.messages.length === 1);
    expect(bob.messages[0]).toMatchObject({
      id: ack.id,
      seq: 1,
      teamId: 'T',
      from: { id: 'ann', name: 'Ann' },
      data: { text: 'hello', n: 1 },
    });
    expect(bob.messages[0]!.data.text).toBe('hello');

    // The sender's own connection does not get its message back.
    await bob.client.send({ text: 'hi' });
    await until(() => ann.messages.length === 1);
    expect(ann.messages.map((m) => m.data.text)).toEqual(['hi']);
    expect(ann.client.position.seq).toBe(2);
  });

  test('sendTo reaches one user; presence() and presence events; history()', async () => {
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T' });
    const bob = record<string>(server.socketUrl, { id: 'bob', teamId: 'T' });
    const cid = record<string>(server.socketUrl, { id: 'cid', teamId: 'T' });
    await ann.client.connect();
    await bob.client.connect();
    await until(() => ann.presence.some((p) => p.event === 'join' && p.user.id === 'bob'));
    await cid.client.connect();

    const members = await ann.client.presence();
    expect(members.map((m) => m.id).sort()).toEqual(['ann', 'bob', 'cid']);

    await ann.client.sendTo('bob', 'psst');
    await ann.client.send('all');
    await until(() => cid.messages.length === 1 && bob.messages.length === 2);
    expect(bob.messages.map((m) => [m.data, m.to])).toEqual([
      ['psst', 'bob'],
      ['all', undefined],
    ]);
    expect(cid.messages.map((m) => m.data)).toEqual(['all']);

    const page = await bob.client.history({ limit: 10 });
    expect(page).toMatchObject({ more: false });
    expect(page.messages.map((m) => m.data)).toEqual(['psst', 'all']);
    expect((await cid.client.history()).messages.map((m) => m.data)).toEqual(['all']);
    expect((await bob.client.history({ before: 2, limit: 1 })).messages.map((m) => m.seq)).toEqual([
      1,
    ]);

    cid.client.close();
    await until(() => ann.presence.some((p) => p.event === 'leave' && p.user.id === 'cid'));
    expect(ann.presence.filter((p) => p.user.id === 'cid').map((p) => p.event)).toEqual([
      'join',
      'leave',
    ]);
  });

  test('an error frame rejects the send with its code; the connection stays usable', async () => {
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T' });
    await ann.client.connect();
    const error = await ann.client.send('fail').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SwitchboardError);
    expect(error).toMatchObject({ code: 'unavailable', retryable: true, ref: expect.any(String) });
    await expect(ann.client.send('fine')).resolves.toMatchObject({ seq: 1 });
    expect(ann.client.state).toBe('open');
  });

  test('a send with no answer rejects with a timeout; sending again with its ref is safe', async () => {
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T', timeoutMs: 300 });
    const bob = record<string>(server.socketUrl, { id: 'bob', teamId: 'T' });
    await ann.client.connect();
    await bob.client.connect();
    const error = await ann.client.send('hang').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'timeout', retryable: true });
    const ref = (error as SwitchboardError).ref!;

    releaseHung();
    await until(() => bob.messages.length === 1);
    // The retry with the same ref gets the first ack and publishes nothing new.
    const again = new SwitchboardClient<string>({
      url: server.socketUrl,
      id: 'ann',
      name: 'ann',
      teamId: 'T',
      WebSocket: (await import('ws')).WebSocket,
    });
    await again.connect();
    const ack = await again.send('hang', { ref });
    again.close();
    expect(ack).toEqual({ ref, id: bob.messages[0]!.id, seq: 1 });
    const stored = await api<{ messages: unknown[] }>(server, 'GET', '/api/teams/T/messages');
    expect(stored.body.messages).toHaveLength(1);
  });

  test('a retry with the same ref while the first is pending shares its ack', async () => {
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T' });
    await ann.client.connect();
    const [first, retry] = await Promise.all([
      ann.client.send('once', { ref: 'my-ref' }),
      ann.client.send('once', { ref: 'my-ref' }),
    ]);
    expect(retry).toEqual(first);
    const stored = await api<{ messages: unknown[] }>(server, 'GET', '/api/teams/T/messages');
    expect(stored.body.messages).toHaveLength(1);
  });

  test('a send answered indeterminate goes again with its ref and resolves with the first ack', async () => {
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T' });
    const bob = record<string>(server.socketUrl, { id: 'bob', teamId: 'T' });
    await ann.client.connect();
    await bob.client.connect();
    const ack = await ann.client.send('unsure');
    expect(ack).toMatchObject({ seq: 1 });
    await until(() => bob.messages.length === 1);
    expect(bob.messages[0]!.id).toBe(ack.id);
    const stored = await api<{ messages: unknown[] }>(server, 'GET', '/api/teams/T/messages');
    expect(stored.body.messages).toHaveLength(1);
    expect(ann.errors).toEqual([]);
  });

  test('bad input is refused before it reaches the wire', async () => {
    const ann = record(server.socketUrl, { id: 'ann', teamId: 'T' });
    await expect(ann.client.send('early')).rejects.toMatchObject({ code: 'closed' });
    await ann.client.connect();
    await expect(ann.client.sendTo('not a valid id!', 'x')).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(ann.client.send(undefined)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(ann.client.send({ big: BigInt(1) })).rejects.toMatchObject({
      code: 'bad_request',
    });
    expect(() => record(server.socketUrl, { id: 'bad id', teamId: 'T' })).toThrow(TypeError);
  });

  test('close() rejects what is pending and does not reconnect', async () => {
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T' });
    await ann.client.connect();
    const pending = ann.client.send('hang');
    ann.client.close();
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    expect(ann.client.state).toBe('closed');
    expect(ann.closes).toEqual([{ code: 1000, reason: 'client closed', willReconnect: false }]);
  });
});

describe('client library and the server limits', () => {
  test('frames dropped by the rate limit are sent again until each one is acked', async () => {
    server = await startTestServer({ RATE_LIMIT_PER_S: '20', RATE_LIMIT_BURST: '2' });
    const ann = record<number>(server.socketUrl, { id: 'ann', teamId: 'T' });
    const bob = record<number>(server.socketUrl, { id: 'bob', teamId: 'T' });
    await ann.client.connect();
    await bob.client.connect();
    const acks = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((n) => ann.client.send(n)));
    expect(new Set(acks.map((a) => a.seq)).size).toBe(8);
    await until(() => bob.messages.length === 8);
    expect(bob.messages.map((m) => m.data).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test('a frame over MAX_MESSAGE_BYTES rejects with too_large; the client reconnects', async () => {
    server = await startTestServer({ MAX_MESSAGE_BYTES: '1024' });
    const ann = record<string>(server.socketUrl, { id: 'ann', teamId: 'T' });
    await ann.client.connect();
    await expect(ann.client.send('x'.repeat(2000))).rejects.toMatchObject({ code: 'too_large' });
    await expect(ann.client.send('small')).resolves.toMatchObject({ seq: 1 });
    expect(ann.closes.map((c) => c.code)).toEqual([1009]);
  });

  test('a token function is asked again for every connection', async () => {
    const secret = 'a-very-long-test-secret-of-at-least-32-chars';
    server = await startTestServer({ AUTH_SECRET: secret });
    const { SignJWT } = await import('jose');
    let minted = 0;
    const ann = record(server.socketUrl, {
      id: 'ann',
      teamId: 'T',
      token: () => {
        minted++;
        return new SignJWT({ team: 'T' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('ann')
          .setExpirationTime('1m')
          .sign(new TextEncoder().encode(secret));
      },
    });
    const first = await ann.client.connect();
    const conns = await api<{ connections: { connId: string }[] }>(
      server,
      'GET',
      '/api/connections',
    );
    expect(conns.body.connections.map((c) => c.connId)).toEqual([first.connId]);
    await api(server, 'DELETE', `/api/connections/${first.connId}`);
    await until(() => ann.opens.length === 2);
    expect(minted).toBe(2);
  });
});
