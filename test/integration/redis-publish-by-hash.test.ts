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
 * connection (a restarted Redis) starts with EVAL, and a NOSCRIPT fails that batch
 * as refused and sends the text again.
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

  test('after SCRIPT FLUSH the batch that hit NOSCRIPT is refused, and the next sends the text', async () => {
    const { bus, keys } = await redisBus(suite);
    for (let i = 1; i <= 3; i++) await send(bus, 'T', `m${i}`);
    await admin.script('FLUSH');
    await admin.config('RESETSTAT');
    await expect(send(bus, 'T', 'refused')).rejects.toMatchObject({ code: 'unavailable' });
    expect((await send(bus, 'T', 'm4')).seq).toBe(4);
    expect((await send(bus, 'T', 'm5')).seq).toBe(5);
    expect(await commandCalls(admin, 'eval')).toBe(1);
    // The refused call, then m5.
    expect(await commandCalls(admin, 'evalsha')).toBe(2);
    expect(await stored(admin, keys, 'T')).toEqual(['1:m1', '2:m2', '3:m3', '4:m4', '5:m5']);
    await bus.close();
  });

  test('batches in flight at a SCRIPT FLUSH: each is acked or refused, and the acked keep their order', async () => {
    const { bus, keys } = await redisBus(suite);
    await send(bus, 'T', 'm0');
    await admin.script('FLUSH');
    const sent: Promise<Message>[] = [];
    for (let i = 1; i <= 20; i++) {
      sent.push(send(bus, 'T', `m${i}`));
      // One batch per turn: several calls in flight on the connection at once.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const outcomes = await Promise.allSettled(sent);
    const acked: string[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') acked.push(`${o.value.seq}:m${i + 1}`);
      else expect(o.reason).toMatchObject({ code: 'unavailable' });
    });
    // Seqs 2, 3, ... in the order of the calls: no refused call took one.
    expect(acked.map((a) => Number(a.split(':')[0]))).toEqual(acked.map((_, i) => i + 2));
    expect(await stored(admin, keys, 'T')).toEqual(['1:m0', ...acked]);
    expect((await send(bus, 'T', 'last')).seq).toBe(acked.length + 2);
    await bus.close();
  });
});
