import pino from 'pino';
import type { Redis } from 'ioredis';
import type { RedisBus } from '../../services/redis/bus';
import { decodeLogEntry, type StreamEntry } from '../../services/redis/payload';
import type { RedisKeys } from '../../services/redis/keys';
import type { Message } from '../../services/types';
import { eventually } from '../helpers/eventually';
import { redisBus } from '../helpers/redis-bus';
import { RedisClients } from '../helpers/redis-clients';
import { describeWithRedis, RedisServer, type SuiteRedis } from '../helpers/redis-server';

/** How many times the server ran `command` since its stats were reset. */
async function commandCalls(admin: Redis, command: string): Promise<number> {
  const info = await admin.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

function send(bus: RedisBus, teamId: string, text: string): Promise<Message> {
  return bus.publish({ teamId, from: { id: 'u1', name: 'U' }, data: { text } });
}

/** The texts in the team's stream, in stream (seq) order, with their seqs. */
async function stored(admin: Redis, keys: RedisKeys, teamId: string): Promise<string[]> {
  const entries = (await admin.xrange(keys.log(teamId), '-', '+')) as StreamEntry[];
  return entries.map((e) => {
    const m = decodeLogEntry(e);
    return `${m.seq}:${(m.data as { text: string }).text}`;
  });
}

/**
 * The publish script goes by hash (EVALSHA) on a connection where it has run, and
 * with its text (EVAL) on any other (issue 13: the text cost the masters a third of
 * their CPU per message). Never at the price of a lost or reordered message: a new
 * connection (a restarted Redis) starts with EVAL, and a call answered NOSCRIPT is
 * sent again with the text before anything else.
 */
describeWithRedis('the publish script by hash', () => {
  const log = pino({ level: 'silent' });
  let own: RedisServer;
  let clients: RedisClients;
  let admin: Redis;
  const suite: SuiteRedis = {
    get server() {
      return own;
    },
    client: (role, subscriber = false) => clients.open(role, subscriber),
  };

  beforeEach(async () => {
    own = await RedisServer.start();
    clients = new RedisClients(() => own.url, log);
    admin = await clients.open('admin');
  });
  afterEach(async () => {
    await clients.closeAll();
    await own.stop();
  });

  test('a connection sends the text once, then the hash', async () => {
    const { bus } = await redisBus(suite);
    await admin.config('RESETSTAT');
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) seqs.push((await send(bus, 'T', `m${i}`)).seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(await commandCalls(admin, 'eval')).toBe(1);
    expect(await commandCalls(admin, 'evalsha')).toBe(4);
    await bus.close();
  });

  test('after Redis restarts empty, the new connection starts with the text and seqs follow on', async () => {
    const { bus, cmd, keys } = await redisBus(suite);
    for (let i = 1; i <= 3; i++) await send(bus, 'T', `before${i}`);
    await own.kill();
    await own.restart();
    await eventually(() => cmd.status === 'ready', 15_000);
    const fresh = await clients.open('admin');
    const seqs: number[] = [];
    for (let i = 1; i <= 4; i++) seqs.push((await send(bus, 'T', `after${i}`)).seq);
    // An empty Redis: the team starts again at 1 (in a new epoch), with no gap.
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(await stored(fresh, keys, 'T')).toEqual([
      '1:after1',
      '2:after2',
      '3:after3',
      '4:after4',
    ]);
    expect(await commandCalls(fresh, 'eval')).toBe(1);
    expect(await commandCalls(fresh, 'evalsha')).toBe(3);
    await bus.close();
  }, 30_000);

  test('after SCRIPT FLUSH the call that hit NOSCRIPT is sent again with the text, in order', async () => {
    const { bus, keys } = await redisBus(suite);
    for (let i = 1; i <= 3; i++) await send(bus, 'T', `m${i}`);
    await admin.script('FLUSH');
    await admin.config('RESETSTAT');
    expect((await send(bus, 'T', 'm4')).seq).toBe(4);
    expect((await send(bus, 'T', 'm5')).seq).toBe(5);
    // m4 by hash (NOSCRIPT), m4 again with the text, then m5 by hash.
    expect(await commandCalls(admin, 'evalsha')).toBe(2);
    expect(await commandCalls(admin, 'eval')).toBe(1);
    expect(await stored(admin, keys, 'T')).toEqual(['1:m1', '2:m2', '3:m3', '4:m4', '5:m5']);
    await bus.close();
  });

  test('calls in flight at a SCRIPT FLUSH all publish, in the order they were made', async () => {
    const { bus, keys } = await redisBus(suite);
    await send(bus, 'T', 'm0');
    await admin.script('FLUSH');
    const sent: Promise<Message>[] = [];
    for (let i = 1; i <= 20; i++) {
      sent.push(send(bus, 'T', `m${i}`));
      // One call per turn: several in flight on the connection at once.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const seqs = (await Promise.all(sent)).map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(await stored(admin, keys, 'T')).toEqual([
      '1:m0',
      ...Array.from({ length: 20 }, (_, i) => `${i + 2}:m${i + 1}`),
    ]);
    await bus.close();
  });

  test("two nodes publishing through SCRIPT FLUSHes: each node's calls keep their order", async () => {
    // Each node's script text is its own: one node's EVAL cannot load the other's hash
    // between two of its calls, which would let a later call run before an earlier
    // one's resend.
    const a = await redisBus(suite, { nodeId: 'node-a', retain: 1000 });
    const b = await redisBus(suite, { keys: a.keys, nodeId: 'node-b', retain: 1000 });
    const sent: Promise<Message>[][] = [[], []];
    for (let i = 0; i < 200; i++) {
      sent[0]?.push(send(a.bus, 'T', `a${i}`));
      sent[1]?.push(send(b.bus, 'T', `b${i}`));
      if (i % 10 === 5) void admin.script('FLUSH');
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const node of sent) {
      const seqs = (await Promise.all(node)).map((m) => m.seq);
      seqs.slice(1).forEach((seq, i) => expect(seq).toBeGreaterThan(seqs[i] ?? 0));
    }
    expect(await admin.xlen(a.keys.log('T'))).toBe(400);
    await a.bus.close();
    await b.bus.close();
  });

  test('with REDIS_ACK_REPLICAS, a call sent again after NOSCRIPT waits for the replica again', async () => {
    const replica = await RedisServer.start({
      args: ['--repl-diskless-load', 'swapdb', '--replicaof', '127.0.0.1', String(own.port)],
    });
    try {
      const { bus } = await redisBus(suite, { ackReplicas: 1, ackTimeoutMs: 200 });
      // Acked once the replica has synced; the connection then has the script.
      await eventually(() => send(bus, 'T', 'warm'), 15_000);
      await admin.script('FLUSH');
      replica.pause();
      // The WAIT behind the NOSCRIPT try finds nothing new to wait for; the one behind
      // the resend waits for the paused replica and times out.
      await expect(send(bus, 'T', 'after flush')).rejects.toMatchObject({
        code: 'indeterminate',
      });
      replica.resume();
      await bus.close();
    } finally {
      await replica.stop();
    }
  }, 30_000);
});
