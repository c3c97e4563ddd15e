import { randomUUID } from 'node:crypto';
import type { Bus, ClusterEvent, Delivery } from '../../services/bus';
import type { MessageView } from '../../services/frames';
import { REPLAY_PAGE_SIZE, type History } from '../../services/history';
import type { Message, MessageDraft } from '../../services/types';

/** What the engine suite needs: a bus and the history it writes to. */
export interface EngineUnderTest {
  bus: Bus;
  history: History;
  /** The node this bus runs as: kicks are addressed to it. */
  nodeId: string;
  close(): Promise<void>;
}

export interface EngineOptions {
  /** Messages retained per team. */
  retain: number;
}

export type EngineFactory = (options: EngineOptions) => Promise<EngineUnderTest>;

/**
 * The message a delivery carries, read back from its client frame; a routing field
 * that disagrees with the frame is reported, since a listener cannot throw into the test.
 */
function fromDelivery(d: Delivery, mismatches: string[]): Message {
  const { type, ...view } = JSON.parse(d.frame) as MessageView & { type: string };
  const routing = { type: 'message', seq: d.seq, teamId: d.teamId, fromId: d.fromId, to: d.to };
  const framed = { type, seq: view.seq, teamId: view.teamId, fromId: view.from.id, to: view.to };
  if (JSON.stringify(routing) !== JSON.stringify(framed)) {
    mismatches.push(`${JSON.stringify(routing)} vs ${JSON.stringify(framed)}`);
  }
  return { ...view, ...(d.origin === undefined ? {} : { origin: d.origin }) };
}

/** Collects what the bus delivers; `until` resolves once a condition holds, however long that takes. */
class Recorder {
  readonly messages: Message[] = [];
  readonly events: ClusterEvent[] = [];
  readonly mismatches: string[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  attach(bus: Bus): void {
    bus.listen({
      message: (d) => {
        this.messages.push(fromDelivery(d, this.mismatches));
        this.wake();
      },
      event: (e) => {
        this.events.push(e);
        this.wake();
      },
      gap: () => undefined,
    });
  }

  messagesOf(teamId: string): Message[] {
    return this.messages.filter((m) => m.teamId === teamId);
  }

  /** No timeout of its own: jest's test timeout reports a delivery that never comes. */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: '鲍勃' };
const carol = { id: 'carol', name: 'Carol' };

/**
 * The behaviour every Bus + History engine must share. Team ids are unique per
 * test, so an engine whose state outlives one factory call (Redis) still passes.
 */
export function engineContract(name: string, makeEngine: EngineFactory): void {
  describe(`engine contract: ${name}`, () => {
    let engine: EngineUnderTest | undefined;
    let recorder: Recorder;

    async function start(options: EngineOptions = { retain: 1000 }): Promise<EngineUnderTest> {
      engine = await makeEngine(options);
      recorder = new Recorder();
      recorder.attach(engine.bus);
      return engine;
    }

    function newTeam(): string {
      return `t-${randomUUID().slice(0, 12)}`;
    }

    afterEach(async () => {
      await engine?.close();
      engine = undefined;
      expect(recorder.mismatches).toEqual([]);
    });

    async function publishTeam(
      e: EngineUnderTest,
      teamId: string,
      count: number,
      from = alice,
    ): Promise<Message[]> {
      const out: Message[] = [];
      for (let i = 0; i < count; i++) {
        out.push(await e.bus.publish({ teamId, from, data: { n: i + 1 } }));
      }
      return out;
    }

    describe('publishOnce', () => {
      test('the same key returns the first ack and publishes once', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        const key = `k-${randomUUID()}`;
        const first = await e.bus.publishOnce({ teamId, from: alice, data: 'once' }, key);
        const again = await e.bus.publishOnce({ teamId, from: alice, data: 'once' }, key);
        expect(again).toEqual(first);
        expect(first).toEqual({ id: expect.any(String), seq: 1 });
        const after = await e.bus.publish({ teamId, from: alice, data: 'next' });
        expect(after.seq).toBe(2);
        await recorder.until(() => recorder.messagesOf(teamId).length >= 2);
        expect(recorder.messagesOf(teamId).map((m) => m.data)).toEqual(['once', 'next']);
      });

      test('concurrent calls with one key publish once and share the ack', async () => {
        const e = await start();
        const teamId = newTeam();
        const key = `k-${randomUUID()}`;
        const acks = await Promise.all(
          Array.from({ length: 5 }, () =>
            e.bus.publishOnce({ teamId, from: alice, data: 'x' }, key),
          ),
        );
        for (const ack of acks) expect(ack).toEqual(acks[0]);
        expect((await e.history.head(teamId)).seq).toBe(1);
      });

      test('keys are scoped per team', async () => {
        const e = await start();
        const a = newTeam();
        const b = newTeam();
        const key = `k-${randomUUID()}`;
        const ackA = await e.bus.publishOnce({ teamId: a, from: alice, data: 'x' }, key);
        const ackB = await e.bus.publishOnce({ teamId: b, from: alice, data: 'x' }, key);
        expect(ackB.id).not.toEqual(ackA.id);
      });

      test('different keys publish separately', async () => {
        const e = await start();
        const teamId = newTeam();
        const one = await e.bus.publishOnce({ teamId, from: alice, data: 1 }, `k1-${randomUUID()}`);
        const two = await e.bus.publishOnce({ teamId, from: alice, data: 2 }, `k2-${randomUUID()}`);
        expect([one.seq, two.seq]).toEqual([1, 2]);
      });
    });

    describe('publish', () => {
      test('assigns seq 1, 2, 3 per team', async () => {
        const e = await start();
        const teamId = newTeam();
        const messages = await publishTeam(e, teamId, 3);
        expect(messages.map((m) => m.seq)).toEqual([1, 2, 3]);
      });

      test('teams have independent seqs', async () => {
        const e = await start();
        const a = newTeam();
        const b = newTeam();
        const seqs: [string, number][] = [];
        for (const teamId of [a, b, a, a, b, a]) {
          const m = await e.bus.publish({ teamId, from: alice, data: 'x' });
          seqs.push([teamId, m.seq]);
        }
        expect(seqs).toEqual([
          [a, 1],
          [b, 1],
          [a, 2],
          [a, 3],
          [b, 2],
          [a, 4],
        ]);
      });

      test('concurrent publishes get distinct, gapless seqs', async () => {
        const e = await start();
        const teamId = newTeam();
        const messages = await Promise.all(
          Array.from({ length: 25 }, (_, i) => e.bus.publish({ teamId, from: alice, data: i })),
        );
        expect(messages.map((m) => m.seq).sort((x, y) => x - y)).toEqual(
          Array.from({ length: 25 }, (_, i) => i + 1),
        );
      });

      test('resolves with the stored message: id, ts, teamId, from, data', async () => {
        const e = await start();
        const teamId = newTeam();
        const data = { text: '消息发送', nested: [1, { ok: true }], nil: null };
        const m = await e.bus.publish({ teamId, from: bob, data });
        expect(m).toMatchObject({ teamId, from: bob, data, seq: 1 });
        expect(typeof m.id).toBe('string');
        expect(m.id.length).toBeGreaterThan(0);
        expect(Number.isInteger(m.ts)).toBe(true);
        expect(new Date(m.ts).getUTCFullYear()).toBeGreaterThanOrEqual(2024);
        expect(m.to).toBeUndefined();
      });

      test('a direct message resolves with to', async () => {
        const e = await start();
        const teamId = newTeam();
        const m = await e.bus.publish({ teamId, from: alice, to: 'bob', data: 'psst' });
        expect(m).toMatchObject({ teamId, from: alice, to: 'bob', data: 'psst', seq: 1 });
      });

      test('ids are unique across messages and teams', async () => {
        const e = await start();
        const a = newTeam();
        const b = newTeam();
        const messages = [...(await publishTeam(e, a, 20)), ...(await publishTeam(e, b, 20))];
        expect(new Set(messages.map((m) => m.id)).size).toBe(40);
      });

      test('the draft is not mutated', async () => {
        const e = await start();
        const draft: MessageDraft = { teamId: newTeam(), from: alice, data: { a: 1 } };
        const copy = structuredClone(draft);
        await e.bus.publish(draft);
        expect(draft).toEqual(copy);
      });
    });

    describe('delivery', () => {
      test('a subscribed listener receives each message with its seq', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        const published = await publishTeam(e, teamId, 3);
        await recorder.until(() => recorder.messagesOf(teamId).length >= 3);
        expect(recorder.messagesOf(teamId)).toEqual(published);
      });

      test('listeners receive a team’s messages in seq order, even when published concurrently', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        await Promise.all(
          Array.from({ length: 30 }, (_, i) => e.bus.publish({ teamId, from: alice, data: i })),
        );
        await recorder.until(() => recorder.messagesOf(teamId).length >= 30);
        expect(recorder.messagesOf(teamId).map((m) => m.seq)).toEqual(
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
      });

      test('each team keeps its order when teams interleave', async () => {
        const e = await start();
        const a = newTeam();
        const b = newTeam();
        await e.bus.subscribe(a);
        await e.bus.subscribe(b);
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            e.bus.publish({ teamId: i % 2 === 0 ? a : b, from: alice, data: i }),
          ),
        );
        await recorder.until(
          () => recorder.messagesOf(a).length >= 10 && recorder.messagesOf(b).length >= 10,
        );
        const oneToTen = Array.from({ length: 10 }, (_, i) => i + 1);
        expect(recorder.messagesOf(a).map((m) => m.seq)).toEqual(oneToTen);
        expect(recorder.messagesOf(b).map((m) => m.seq)).toEqual(oneToTen);
      });

      test('seqs follow call order when many sends, refs and teams share one moment', async () => {
        const e = await start();
        const teams = [newTeam(), newTeam(), newTeam()];
        for (const t of teams) await e.bus.subscribe(t);
        // More than one publish-script batch holds (256), interleaving teams, refs and repeats.
        const calls = Array.from({ length: 600 }, (_, i) => {
          const teamId = teams[i % 3]!;
          const draft = { teamId, from: alice, data: i };
          return i % 5 === 0
            ? e.bus.publishOnce(draft, `k${i % 50}`)
            : e.bus.publish(draft).then((m) => ({ id: m.id, seq: m.seq }));
        });
        const acks = await Promise.all(calls);
        for (const [t, teamId] of teams.entries()) {
          const mine = acks.filter((_, i) => i % 3 === t);
          const firstOfKey = new Map<string, number>();
          const expected: number[] = [];
          let next = 1;
          mine.forEach((_, j) => {
            const i = j * 3 + t;
            if (i % 5 !== 0) expected.push(next++);
            else {
              const key = `k${i % 50}`;
              if (!firstOfKey.has(key)) firstOfKey.set(key, next++);
              expected.push(firstOfKey.get(key)!);
            }
          });
          expect(mine.map((a) => a.seq)).toEqual(expected);
          await recorder.until(() => recorder.messagesOf(teamId).length >= next - 1);
          expect(recorder.messagesOf(teamId).map((m) => m.seq)).toEqual(
            Array.from({ length: next - 1 }, (_, k) => k + 1),
          );
        }
      });

      test('a message is stored before it is delivered', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        const heads: Promise<number>[] = [];
        e.bus.listen({
          message: (m) => {
            if (m.teamId === teamId) heads.push(e.history.head(teamId).then((h) => h.seq - m.seq));
          },
          event: () => undefined,
          gap: () => undefined,
        });
        await publishTeam(e, teamId, 3);
        await recorder.until(() => recorder.messagesOf(teamId).length >= 3);
        for (const gap of await Promise.all(heads)) expect(gap).toBeGreaterThanOrEqual(0);
      });

      test('the origin travels with the message so the sending connection can be skipped', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        await e.bus.publish({ teamId, from: alice, data: 'x', origin: 'conn-1' });
        await recorder.until(() => recorder.messagesOf(teamId).length >= 1);
        expect(recorder.messagesOf(teamId)[0]!.origin).toBe('conn-1');
      });

      test('emit delivers a presence event', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        const event: ClusterEvent = { kind: 'presence', teamId, event: 'join', user: bob };
        await e.bus.emit(event);
        await recorder.until(() => recorder.events.length >= 1);
        expect(recorder.events).toEqual([event]);
      });

      test('emit delivers a kick event', async () => {
        const e = await start();
        const event: ClusterEvent = { kind: 'kick', connId: `c-${randomUUID()}`, node: e.nodeId };
        await e.bus.emit(event);
        await recorder.until(() => recorder.events.length >= 1);
        expect(recorder.events).toEqual([event]);
      });

      test('every listener gets every message and event', async () => {
        const e = await start();
        const second = new Recorder();
        second.attach(e.bus);
        const teamId = newTeam();
        await e.bus.subscribe(teamId);
        await publishTeam(e, teamId, 2);
        await e.bus.emit({ kind: 'presence', teamId, event: 'leave', user: carol });
        for (const r of [recorder, second]) {
          await r.until(() => r.messagesOf(teamId).length >= 2 && r.events.length >= 1);
          expect(r.messagesOf(teamId).map((m) => m.seq)).toEqual([1, 2]);
          expect(r.events).toEqual([{ kind: 'presence', teamId, event: 'leave', user: carol }]);
        }
      });
    });

    describe('history.head', () => {
      test('an unknown team has seq 0 and an epoch', async () => {
        const e = await start();
        const head = await e.history.head(newTeam());
        expect(head.seq).toBe(0);
        expect(typeof head.epoch).toBe('string');
        expect(head.epoch.length).toBeGreaterThan(0);
      });

      test('seq follows publishes and the epoch is stable', async () => {
        const e = await start();
        const teamId = newTeam();
        const before = await e.history.head(teamId);
        await publishTeam(e, teamId, 3);
        const after = await e.history.head(teamId);
        expect(after.seq).toBe(3);
        // Publishing does not reset history, so the epoch a client saw (even on an
        // empty team) stays valid for its resume.
        expect(after.epoch).toBe(before.epoch);
        expect((await e.history.head(teamId)).epoch).toBe(after.epoch);
        const replay = await e.history.replay(teamId, { since: 0, epoch: after.epoch });
        expect(replay.head).toEqual(after);
      });

      test('heads of two teams are independent', async () => {
        const e = await start();
        const a = newTeam();
        const b = newTeam();
        await publishTeam(e, a, 4);
        await publishTeam(e, b, 1);
        expect((await e.history.head(a)).seq).toBe(4);
        expect((await e.history.head(b)).seq).toBe(1);
      });
    });

    describe('history.replay', () => {
      test('since 0 returns every message, oldest first, complete', async () => {
        const e = await start();
        const teamId = newTeam();
        const published = await publishTeam(e, teamId, 5);
        const { epoch } = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 0, epoch });
        expect(replay.messages).toEqual(published);
        expect(replay.complete).toBe(true);
        expect(replay.head).toEqual({ seq: 5, epoch });
      });

      test('returns only messages after since', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 5);
        const { epoch } = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 3, epoch });
        expect(replay.messages.map((m) => m.seq)).toEqual([4, 5]);
        expect(replay.complete).toBe(true);
      });

      test('since = head returns nothing and is complete', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 2);
        const { epoch } = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 2, epoch });
        expect(replay).toEqual({
          messages: [],
          complete: true,
          head: { seq: 2, epoch },
          through: 2,
          more: false,
          read: 0,
        });
      });

      test('without an epoch the replay still works', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 2);
        const replay = await e.history.replay(teamId, { since: 1 });
        expect(replay.messages.map((m) => m.seq)).toEqual([2]);
        expect(replay.complete).toBe(true);
      });

      test('an unknown team with since 0 is an empty complete replay', async () => {
        const e = await start();
        const teamId = newTeam();
        const replay = await e.history.replay(teamId, { since: 0 });
        expect(replay.messages).toEqual([]);
        expect(replay.complete).toBe(true);
        expect(replay.head.seq).toBe(0);
      });

      test('since beyond the head is incomplete and empty', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 2);
        const { epoch } = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 9, epoch });
        expect(replay.messages).toEqual([]);
        expect(replay.complete).toBe(false);
        expect(replay.head).toEqual({ seq: 2, epoch });
      });

      test('a wrong epoch is incomplete and replays nothing', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 3);
        const head = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 0, epoch: `${head.epoch}-old` });
        expect(replay.messages).toEqual([]);
        expect(replay.complete).toBe(false);
        expect(replay.head).toEqual(head);
      });

      test('since before retention returns what is retained and is incomplete', async () => {
        const e = await start({ retain: 3 });
        const teamId = newTeam();
        await publishTeam(e, teamId, 5);
        const { epoch } = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 0, epoch });
        expect(replay.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
        expect(replay.complete).toBe(false);
        const justLost = await e.history.replay(teamId, { since: 1, epoch });
        expect(justLost.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
        expect(justLost.complete).toBe(false);
      });

      test('since at the edge of retention is complete', async () => {
        const e = await start({ retain: 3 });
        const teamId = newTeam();
        await publishTeam(e, teamId, 5);
        const { epoch } = await e.history.head(teamId);
        const replay = await e.history.replay(teamId, { since: 2, epoch });
        expect(replay.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
        expect(replay.complete).toBe(true);
      });

      test('retention is per team', async () => {
        const e = await start({ retain: 2 });
        const a = newTeam();
        const b = newTeam();
        await publishTeam(e, a, 4);
        await publishTeam(e, b, 2);
        expect((await e.history.replay(a, { since: 0 })).complete).toBe(false);
        const rb = await e.history.replay(b, { since: 0 });
        expect(rb.messages.map((m) => m.seq)).toEqual([1, 2]);
        expect(rb.complete).toBe(true);
      });

      describe('visibility', () => {
        async function mixed(e: EngineUnderTest, teamId: string): Promise<void> {
          await e.bus.publish({ teamId, from: alice, data: 'team 1' }); // 1
          await e.bus.publish({ teamId, from: alice, to: 'bob', data: 'a->b' }); // 2
          await e.bus.publish({ teamId, from: carol, to: 'alice', data: 'c->a' }); // 3
          await e.bus.publish({ teamId, from: bob, data: 'team 4' }); // 4
          await e.bus.publish({ teamId, from: carol, to: 'carol', data: 'c->c' }); // 5
        }

        test.each([
          ['alice', [1, 2, 3, 4]],
          ['bob', [1, 2, 4]],
          ['carol', [1, 3, 4, 5]],
          ['dave', [1, 4]],
        ])('viewer %s sees team messages and their own directs', async (viewer, seqs) => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const replay = await e.history.replay(teamId, { since: 0, viewer });
          expect(replay.messages.map((m) => m.seq)).toEqual(seqs);
          expect(replay.complete).toBe(true);
          expect(replay.head.seq).toBe(5);
        });

        test('no viewer (admin) sees everything', async () => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const replay = await e.history.replay(teamId, { since: 0 });
          expect(replay.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
        });

        test('visibility combines with since', async () => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const replay = await e.history.replay(teamId, { since: 2, viewer: 'bob' });
          expect(replay.messages.map((m) => m.seq)).toEqual([4]);
          expect(replay.complete).toBe(true);
        });
      });
    });

    describe('history.replay pages', () => {
      test('a page reads at most limit messages and the next one goes on from through', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 10);
        const { epoch } = await e.history.head(teamId);
        const first = await e.history.replay(teamId, { since: 0, epoch, limit: 4 });
        expect(first.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
        expect(first).toMatchObject({ complete: true, through: 4, more: true, read: 4 });
        expect(first.head).toEqual({ seq: 10, epoch });
        const second = await e.history.replay(teamId, { since: 4, epoch, until: 10, limit: 4 });
        expect(second.messages.map((m) => m.seq)).toEqual([5, 6, 7, 8]);
        expect(second).toMatchObject({ complete: true, through: 8, more: true });
        const last = await e.history.replay(teamId, { since: 8, epoch, until: 10, limit: 4 });
        expect(last.messages.map((m) => m.seq)).toEqual([9, 10]);
        expect(last).toMatchObject({ complete: true, through: 10, more: false, read: 2 });
      });

      test('a page that ends exactly at until has nothing more', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 4);
        const page = await e.history.replay(teamId, { since: 0, limit: 4 });
        expect(page).toMatchObject({ through: 4, more: false, read: 4 });
      });

      test('no page reads more than REPLAY_PAGE_SIZE, whatever limit asks', async () => {
        const e = await start({ retain: 1000 });
        const teamId = newTeam();
        const published = await publishTeam(e, teamId, REPLAY_PAGE_SIZE + 50);
        const page = await e.history.replay(teamId, { since: 0, limit: 100_000 });
        expect(page.read).toBe(REPLAY_PAGE_SIZE);
        expect(page.messages).toEqual(published.slice(0, REPLAY_PAGE_SIZE));
        expect(page).toMatchObject({ through: REPLAY_PAGE_SIZE, more: true });
        const unasked = await e.history.replay(teamId, { since: 0 });
        expect(unasked.read).toBe(REPLAY_PAGE_SIZE);
      });

      test('until ends the replay at the head it started from', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 5);
        const { epoch } = await e.history.head(teamId);
        await publishTeam(e, teamId, 3);
        const page = await e.history.replay(teamId, { since: 2, epoch, until: 5, limit: 10 });
        expect(page.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
        expect(page).toMatchObject({ complete: true, through: 5, more: false });
        expect(page.head.seq).toBe(8);
      });

      test('hidden direct messages count as read but are not returned', async () => {
        const e = await start();
        const teamId = newTeam();
        await e.bus.publish({ teamId, from: alice, to: 'bob', data: 'a->b' }); // 1
        await e.bus.publish({ teamId, from: carol, to: 'bob', data: 'c->b' }); // 2
        await e.bus.publish({ teamId, from: alice, data: 'team 3' }); // 3
        const page = await e.history.replay(teamId, { since: 0, viewer: 'dave', limit: 2 });
        expect(page.messages).toEqual([]);
        expect(page).toMatchObject({ complete: true, through: 2, more: true, read: 2 });
        const next = await e.history.replay(teamId, {
          since: 2,
          viewer: 'dave',
          until: 3,
          limit: 2,
        });
        expect(next.messages.map((m) => m.seq)).toEqual([3]);
        expect(next).toMatchObject({ through: 3, more: false });
      });

      test('a page after the retention moved on is incomplete and starts at what is left', async () => {
        const e = await start({ retain: 3 });
        const teamId = newTeam();
        await publishTeam(e, teamId, 8);
        const { epoch } = await e.history.head(teamId);
        const page = await e.history.replay(teamId, { since: 2, epoch, until: 8, limit: 2 });
        expect(page.messages.map((m) => m.seq)).toEqual([6, 7]);
        expect(page).toMatchObject({ complete: false, through: 7, more: true });
      });

      test('a later page with an epoch the team no longer has replays nothing', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 3);
        const page = await e.history.replay(teamId, {
          since: 1,
          epoch: 'gone',
          until: 3,
          limit: 1,
        });
        expect(page).toMatchObject({ messages: [], complete: false, more: false, read: 0 });
      });
    });

    describe('history.before', () => {
      test('the newest page, oldest first, with more', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 10);
        const page = await e.history.before(teamId, { limit: 3 });
        expect(page.messages.map((m) => m.seq)).toEqual([8, 9, 10]);
        expect(page.more).toBe(true);
      });

      test('pages backwards with before', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 10);
        const p2 = await e.history.before(teamId, { before: 8, limit: 3 });
        expect(p2.messages.map((m) => m.seq)).toEqual([5, 6, 7]);
        expect(p2.more).toBe(true);
        const p3 = await e.history.before(teamId, { before: 5, limit: 3 });
        expect(p3.messages.map((m) => m.seq)).toEqual([2, 3, 4]);
        expect(p3.more).toBe(true);
        const p4 = await e.history.before(teamId, { before: 2, limit: 3 });
        expect(p4.messages.map((m) => m.seq)).toEqual([1]);
        expect(p4.more).toBe(false);
      });

      test('walking every page returns every message once', async () => {
        const e = await start();
        const teamId = newTeam();
        const published = await publishTeam(e, teamId, 11);
        const seen: Message[] = [];
        let before: number | undefined;
        for (;;) {
          const page = await e.history.before(teamId, {
            limit: 4,
            ...(before === undefined ? {} : { before }),
          });
          seen.unshift(...page.messages);
          if (!page.more) break;
          before = page.messages[0]!.seq;
        }
        expect(seen).toEqual(published);
      });

      test('a page that ends exactly at the first message has no more', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 6);
        const page = await e.history.before(teamId, { before: 4, limit: 3 });
        expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
        expect(page.more).toBe(false);
      });

      test('a limit above the count returns everything without more', async () => {
        const e = await start();
        const teamId = newTeam();
        const published = await publishTeam(e, teamId, 4);
        expect(await e.history.before(teamId, { limit: 50 })).toEqual({
          messages: published,
          more: false,
        });
      });

      test('before 1 and an unknown team are empty', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 3);
        expect(await e.history.before(teamId, { before: 1, limit: 10 })).toEqual({
          messages: [],
          more: false,
        });
        expect(await e.history.before(newTeam(), { limit: 10 })).toEqual({
          messages: [],
          more: false,
        });
      });

      test('before beyond the head is the newest page', async () => {
        const e = await start();
        const teamId = newTeam();
        await publishTeam(e, teamId, 5);
        const page = await e.history.before(teamId, { before: 1000, limit: 2 });
        expect(page.messages.map((m) => m.seq)).toEqual([4, 5]);
        expect(page.more).toBe(true);
      });

      test('pages of one team never include another team', async () => {
        const e = await start();
        const a = newTeam();
        const b = newTeam();
        await publishTeam(e, a, 3);
        await publishTeam(e, b, 3);
        const page = await e.history.before(a, { limit: 10 });
        expect(page.messages.every((m) => m.teamId === a)).toBe(true);
        expect(page.messages).toHaveLength(3);
      });

      describe('visibility', () => {
        async function mixed(e: EngineUnderTest, teamId: string): Promise<void> {
          await e.bus.publish({ teamId, from: alice, data: 'team' }); // 1
          await e.bus.publish({ teamId, from: alice, to: 'bob', data: 'a->b' }); // 2
          await e.bus.publish({ teamId, from: carol, to: 'alice', data: 'c->a' }); // 3
          await e.bus.publish({ teamId, from: alice, to: 'carol', data: 'a->c' }); // 4
          await e.bus.publish({ teamId, from: bob, data: 'team' }); // 5
        }

        test('a viewer only sees team messages and their own directs', async () => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const page = await e.history.before(teamId, { limit: 10, viewer: 'bob' });
          expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 5]);
          expect(page.more).toBe(false);
        });

        test('limit counts visible messages only', async () => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const page = await e.history.before(teamId, { limit: 2, viewer: 'bob' });
          expect(page.messages.map((m) => m.seq)).toEqual([2, 5]);
          expect(page.more).toBe(true);
        });

        test('more ignores older messages the viewer may not see', async () => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const page = await e.history.before(teamId, { before: 5, limit: 1, viewer: 'dave' });
          expect(page.messages.map((m) => m.seq)).toEqual([1]);
          expect(page.more).toBe(false);
          const newest = await e.history.before(teamId, { limit: 1, viewer: 'dave' });
          expect(newest.messages.map((m) => m.seq)).toEqual([5]);
          expect(newest.more).toBe(true);
        });

        test('no viewer (admin) sees everything', async () => {
          const e = await start();
          const teamId = newTeam();
          await mixed(e, teamId);
          const page = await e.history.before(teamId, { limit: 10 });
          expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
        });
      });
    });
  });
}
