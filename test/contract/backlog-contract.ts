import type { Backlog, BacklogBatch } from '../../services/archive';
import type { Message } from '../../services/types';
import { closedAfterEach } from '../helpers/closed-after-each';
import { eventually } from '../helpers/eventually';

/** One backlog, filled the way the engine fills it: by publishing on its bus. */
export interface BacklogUnderTest {
  /** Publishes a team message; an accepted message joins the backlog. */
  publish(data: unknown): Promise<Message>;
  /**
   * A taker of this backlog. Each call is another one, as another node (or this one
   * after a restart) would be; a backlog with a single consumer may hand out itself.
   */
  taker(): Promise<Backlog>;
  /** Resolves once a take already started is waiting for messages, not still before its wait. */
  waiting(): Promise<void>;
  close(): Promise<void>;
}

export type BacklogFactory = () => Promise<BacklogUnderTest>;

/** Long enough that a test finishing means the take did not sit out its wait. */
const FOREVER_MS = 60_000;

const dataOf = (batch: BacklogBatch) => batch.messages.map((m) => m.data);

/** The behaviour both backlogs share. Each test gets an empty backlog of its own. */
export function backlogContract(name: string, make: BacklogFactory): void {
  describe(`backlog contract: ${name}`, () => {
    const start = closedAfterEach(make);

    async function publishAll(u: BacklogUnderTest, data: unknown[]): Promise<void> {
      for (const d of data) await u.publish(d);
    }

    test('take returns at most max, oldest first, with a receipt per message', async () => {
      const u = await start();
      await publishAll(u, [1, 2, 3, 4, 5]);
      const batch = await (await u.taker()).take(3, FOREVER_MS);
      expect(dataOf(batch)).toEqual([1, 2, 3]);
      expect(batch.receipt).toHaveLength(3);
    });

    test('a taken message is the one published, with its epoch', async () => {
      const u = await start();
      const sent = await u.publish({ text: '消息' });
      const [taken] = (await (await u.taker()).take(1, FOREVER_MS)).messages;
      expect(taken).toMatchObject({
        id: sent.id,
        seq: sent.seq,
        teamId: sent.teamId,
        data: { text: '消息' },
      });
      expect(taken?.epoch).toEqual(expect.any(String));
    });

    test('an empty backlog: take waits out waitMs and returns an empty batch', async () => {
      const u = await start();
      expect(await (await u.taker()).take(5, 50)).toEqual({ messages: [], receipt: [] });
    });

    test('a waiting take returns, without waiting out waitMs, once messages arrive', async () => {
      const u = await start();
      const waiting = (await u.taker()).take(2, FOREVER_MS);
      await u.waiting();
      await publishAll(u, ['a', 'b']);
      // A backlog may return the first arrival alone or wait for a full batch.
      const got = dataOf(await waiting);
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(['a', 'b'].slice(0, got.length));
    });

    test('length counts every message not acked, taken or not', async () => {
      const u = await start();
      const backlog = await u.taker();
      expect(await backlog.length()).toBe(0);
      await publishAll(u, [1, 2, 3]);
      expect(await backlog.length()).toBe(3);
      const batch = await backlog.take(2, FOREVER_MS);
      expect(await backlog.length()).toBe(3);
      await backlog.ack(batch);
      expect(await backlog.length()).toBe(1);
    });

    test('ack removes the batch: later takes go on after it, in order', async () => {
      const u = await start();
      const backlog = await u.taker();
      await publishAll(u, [1, 2, 3, 4, 5, 6]);
      const first = await backlog.take(3, FOREVER_MS);
      await backlog.ack(first);
      expect(dataOf(first)).toEqual([1, 2, 3]);
      const second = await backlog.take(3, FOREVER_MS);
      await backlog.ack(second);
      expect(dataOf(second)).toEqual([4, 5, 6]);
      expect(await backlog.take(3, 50)).toEqual({ messages: [], receipt: [] });
      expect(await backlog.length()).toBe(0);
    });

    test('acking an empty batch changes nothing', async () => {
      const u = await start();
      const backlog = await u.taker();
      await publishAll(u, [1]);
      await backlog.ack({ messages: [], receipt: [] });
      expect(await backlog.length()).toBe(1);
    });

    test('a batch taken and never acked is handed out again to another taker', async () => {
      const u = await start();
      await publishAll(u, [1, 2, 3]);
      const lost = await (await u.taker()).take(3, FOREVER_MS);
      expect(dataOf(lost)).toEqual([1, 2, 3]);
      // The first taker dies here. The next may have to wait until the batch counts as abandoned.
      const next = await u.taker();
      const again = await eventually(async () => {
        const batch = await next.take(3, 50);
        return batch.messages.length > 0 && batch;
      });
      expect(again.messages.map((m) => m.id)).toEqual(lost.messages.map((m) => m.id));
      await next.ack(again);
      expect(await next.length()).toBe(0);
    });

    test('a take after close does not wait', async () => {
      const u = await start();
      const backlog = await u.taker();
      await backlog.close();
      expect(await backlog.take(5, FOREVER_MS)).toEqual({ messages: [], receipt: [] });
    });

    test('close ends a take that is waiting', async () => {
      const u = await start();
      const backlog = await u.taker();
      const waiting = backlog.take(5, FOREVER_MS);
      await u.waiting();
      await backlog.close();
      expect(await waiting).toEqual({ messages: [], receipt: [] });
    });
  });
}
