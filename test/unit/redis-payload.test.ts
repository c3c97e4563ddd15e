import type { Redis } from 'ioredis';
import fc from 'fast-check';
import pino from 'pino';
import { toDelivery, type ClusterEvent } from '../../services/bus';
import { messageView } from '../../services/frames';
import { RedisBus } from '../../services/redis/bus';
import { RedisKeys } from '../../services/redis/keys';
import {
  decodeBacklogEntry,
  decodeLogEntry,
  decodeNodePayload,
  decodeTeamPayload,
  encodeCanary,
  encodeEvent,
  encodeMessagePayload,
  encodeMessagesPayload,
  type StreamEntry,
} from '../../services/redis/payload';
import type { Message, MessageDraft } from '../../services/types';
import { eventually } from '../helpers/eventually';
import { RedisClients } from '../helpers/redis-clients';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';

/** FUZZ_RUNS scales these as it does the fuzz suites'; FUZZ_SEED replays a failure. */
const RUNS = Number(process.env['FUZZ_RUNS'] || 100);
const seed = process.env['FUZZ_SEED'];
const options = (numRuns: number) => ({
  numRuns,
  ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
});

const id = fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,64}$/);
/** Names of any code points, lone surrogates included: they travel inside JSON. */
const name = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
);
const data = fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: 'binary' }));
/** Ordered epochs, and the 8 hex digits of epochs made before they were ordered. */
const epoch = fc.oneof(fc.stringMatching(/^\d{16}$/), fc.stringMatching(/^[0-9a-f]{8}$/));

const draft: fc.Arbitrary<MessageDraft> = fc
  .record({
    teamId: id,
    from: fc.record({ id, name }),
    to: fc.option(id, { nil: undefined }),
    data,
    origin: fc.option(id, { nil: undefined }),
  })
  .map(({ to, origin, ...rest }) => ({
    ...rest,
    ...(to === undefined ? {} : { to }),
    ...(origin === undefined ? {} : { origin }),
  }));

const message: fc.Arbitrary<Message> = fc
  .record({
    draft,
    id,
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  })
  .map(({ draft: d, ...stamp }) => ({ ...d, ...stamp }));

/** What a client would parse: the view as JSON gives it back. */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('Redis payloads round-trip', () => {
  test('a message payload decodes to the delivery of the message it was made of', () => {
    fc.assert(
      fc.property(message, epoch, (m, e) => {
        const delivery = decodeTeamPayload(m.teamId, encodeMessagePayload(m, e));
        expect(delivery).toStrictEqual(toDelivery(m, e));
        if (delivery === undefined || Array.isArray(delivery) || 'event' in delivery)
          throw new Error('not a message');
        expect(JSON.parse(delivery.frame)).toStrictEqual(
          asJson({ type: 'message', ...messageView(m) }),
        );
      }),
      options(RUNS),
    );
  });

  test("a team's messages of one publish call decode to their deliveries, in order", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 2, maxLength: 8 }), epoch, (ms, e) => {
        const teamId = ms[0]!.teamId;
        const team = ms.map((m) => ({ ...m, teamId }));
        expect(decodeTeamPayload(teamId, encodeMessagesPayload(team, e))).toStrictEqual(
          team.map((m) => toDelivery(m, e)),
        );
      }),
      options(RUNS),
    );
  });

  test('a message in the format of nodes before the routing header still decodes', () => {
    fc.assert(
      fc.property(message, epoch, (m, e) => {
        const payload = `m${e}|${JSON.stringify(m)}`;
        expect(decodeTeamPayload(m.teamId, payload)).toStrictEqual(toDelivery(m, e));
      }),
      options(RUNS),
    );
  });

  test('events decode to themselves, on the channel they go to', () => {
    const presence: fc.Arbitrary<ClusterEvent> = fc.record({
      kind: fc.constant('presence'),
      teamId: id,
      event: fc.constantFrom('join', 'leave'),
      user: fc.record({ id, name }),
    });
    const kick: fc.Arbitrary<ClusterEvent> = fc.record({
      kind: fc.constant('kick'),
      connId: id,
      node: id,
    });
    fc.assert(
      fc.property(fc.oneof(presence, kick), (event) => {
        const payload = encodeEvent(event);
        // toEqual: fast-check may make records without a prototype.
        if (event.kind === 'kick') {
          expect(decodeNodePayload(event.node, payload)).toEqual(event);
        } else if (event.kind === 'presence') {
          expect(decodeTeamPayload(event.teamId, payload)).toEqual({ event });
        }
      }),
      options(RUNS),
    );
    fc.assert(
      fc.property(fc.uuid(), id, (nonce, node) => {
        expect(decodeNodePayload(node, encodeCanary(nonce))).toStrictEqual({
          kind: 'canary',
          nonce,
        });
      }),
      options(RUNS),
    );
  });

  test("another tag (a newer node's) is passed over; a malformed message throws", () => {
    expect(decodeTeamPayload('t', 'x{"a":1}')).toBeUndefined();
    expect(decodeTeamPayload('t', '')).toBeUndefined();
    expect(decodeNodePayload('n', 'zzz')).toBeUndefined();
    expect(() => decodeTeamPayload('t', 'M0000000000000001|1|a|b|{}')).toThrow(/routing header/);
    expect(() => decodeTeamPayload('t', 'M0000000000000001|0|||u|{}')).toThrow(/bad seq/);
    expect(() => decodeTeamPayload('t', 'M0000000000000001|x|||u|{}')).toThrow(/bad seq/);
    expect(() => decodeTeamPayload('t', 'B0000000000000001')).toThrow(/without a message/);
    expect(() => decodeTeamPayload('t', 'B0000000000000001\n1|||u|{}\n2|a|b')).toThrow(
      /routing header/,
    );
  });
});

describeWithRedis('what the publish script writes', () => {
  const log = pino({ level: 'silent' });
  const clients = new RedisClients(() => server.url, log);
  const keys = new RedisKeys('payload:');
  let server: RedisServer;
  let cmd: Redis;
  let bus: RedisBus;
  const heard: { channel: string; payload: string }[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    cmd = await clients.open('command');
    bus = new RedisBus(cmd, await clients.open('subscriber', true), keys, {
      nodeId: 'node-a',
      retain: 1000,
      ttlSeconds: 3600,
      idempotencyTtlSeconds: 600,
      archive: true,
      log,
    });
    const listener = await clients.open('listener', true);
    listener.on('pmessage', (_pattern: string, channel: string, payload: string) =>
      heard.push({ channel, payload }),
    );
    await listener.psubscribe(`${keys.teamChannel('').slice(0, -2)}*`);
  });
  afterAll(async () => {
    await bus.close();
    await clients.closeAll();
    await server.stop();
  });

  test('the payload, the log entry and the backlog entry decode to the message sent', async () => {
    await fc.assert(
      fc.asyncProperty(draft, async (d) => {
        const before = heard.length;
        const sent = await bus.publish(d);
        await eventually(() => heard.length === before + 1);
        const { channel, payload } = heard[before]!;
        expect(channel).toBe(keys.teamChannel(d.teamId));
        const teamEpoch = await cmd.get(keys.epoch(d.teamId));
        if (teamEpoch === null) throw new Error('the team has no epoch');

        // The script writes exactly what the TypeScript half says it does.
        expect(payload).toBe(encodeMessagePayload(sent, teamEpoch));
        expect(decodeTeamPayload(d.teamId, payload)).toStrictEqual(toDelivery(sent, teamEpoch));

        const [logged] = (await cmd.xrange(
          keys.log(d.teamId),
          `${sent.seq}-0`,
          `${sent.seq}-0`,
        )) as StreamEntry[];
        expect(decodeLogEntry(logged!)).toStrictEqual(asJson(sent));

        const [queued] = (await cmd.xrevrange(
          keys.archive(),
          '+',
          '-',
          'COUNT',
          1,
        )) as StreamEntry[];
        expect(decodeBacklogEntry(queued!)).toStrictEqual({
          ...(asJson(messageView(sent)) as object),
          epoch: teamEpoch,
        });
      }),
      options(Math.max(10, Math.round(RUNS / 4))),
    );
  });

  test("a team's messages of one call go out in one payload, as the TypeScript half makes it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(draft, { minLength: 1, maxLength: 6 }), async (drafts) => {
        const teamId = drafts[0]!.teamId;
        const before = heard.length;
        // Published in one turn: one call of the script, one PUBLISH for the team.
        const sent = await Promise.all(drafts.map((d) => bus.publish({ ...d, teamId })));
        await eventually(() => heard.length >= before + 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(heard.length).toBe(before + 1);
        const { channel, payload } = heard[before]!;
        expect(channel).toBe(keys.teamChannel(teamId));
        const teamEpoch = await cmd.get(keys.epoch(teamId));
        if (teamEpoch === null) throw new Error('the team has no epoch');
        expect(payload).toBe(encodeMessagesPayload(sent, teamEpoch));
        const decoded = decodeTeamPayload(teamId, payload);
        const deliveries = sent.map((m) => toDelivery(m, teamEpoch));
        expect(decoded).toStrictEqual(deliveries.length === 1 ? deliveries[0] : deliveries);
      }),
      options(Math.max(10, Math.round(RUNS / 4))),
    );
  });

  test('a repeated ref is answered with the first message, read back from its record', async () => {
    const d = { teamId: 'refs', from: { id: 'u', name: 'Ünïcödé 名前' }, data: { a: [1] } };
    const first = await bus.publishOnce(d, 'ref-1');
    await bus.publish(d);
    expect(await bus.publishOnce({ ...d, data: 'other' }, 'ref-1')).toStrictEqual(first);
    expect(first.seq).toBe(1);
  });
});
