import type { ArchivedMessage } from '../../services/archive';
import type { DeadLetterDraft, DeadLetters } from '../../services/dead-letters';
import { AppError } from '../../services/errors';

export type DeadLettersFactory = (max: number) => Promise<DeadLetters>;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The draft of message `m-<seq>` of team A. */
export function draft(seq: number, extra: Partial<ArchivedMessage> = {}): DeadLetterDraft {
  return {
    message: {
      id: `m-${seq}`,
      seq,
      teamId: 'A',
      from: { id: 'u1', name: '张三' },
      data: { text: `消息 ${seq}` },
      ts: 1_700_000_000_000 + seq,
      epoch: 'e1',
      origin: 'conn-1',
      ...extra,
    },
    error: `2628: String or binary data would be truncated (${seq})`,
  };
}

async function badRequest(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  throw new Error('expected bad_request, the call succeeded');
}

/** The behaviour every DeadLetters implementation shares. Each test gets an empty one. */
export function deadLettersContract(name: string, make: DeadLettersFactory): void {
  describe(`dead letters contract: ${name}`, () => {
    test('empty at first', async () => {
      const d = await make(10);
      expect(await d.count()).toBe(0);
      expect(await d.list({ limit: 10 })).toEqual({ deadLetters: [], next: null });
    });

    test('a dead letter keeps the ids, the error, the time and the message as clients see it', async () => {
      const d = await make(10);
      expect(await d.add([draft(1, { to: 'u2' })])).toBe(0);
      const [letter] = (await d.list({ limit: 10 })).deadLetters;
      expect(letter).toEqual({
        id: expect.any(String),
        teamId: 'A',
        epoch: 'e1',
        seq: 1,
        error: '2628: String or binary data would be truncated (1)',
        at: expect.stringMatching(ISO_8601),
        message: {
          id: 'm-1',
          seq: 1,
          teamId: 'A',
          from: { id: 'u1', name: '张三' },
          to: 'u2',
          data: { text: '消息 1' },
          ts: 1_700_000_000_001,
        },
      });
      expect(await d.count()).toBe(1);
    });

    test('oldest first; pages by cursor cover every dead letter exactly once', async () => {
      const d = await make(100);
      await d.add([1, 2, 3].map((s) => draft(s)));
      await d.add([4, 5, 6, 7].map((s) => draft(s)));
      const seen: number[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await d.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.deadLetters.map((l) => l.seq));
        cursor = page.next ?? undefined;
        pages++;
      } while (cursor !== undefined);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(pages).toBe(3);
    });

    test('a page that ends exactly at the last one says there is no next', async () => {
      const d = await make(100);
      await d.add([1, 2].map((s) => draft(s)));
      expect((await d.list({ limit: 2 })).next).toBeNull();
    });

    test('past the cap the oldest are dropped, and add says how many', async () => {
      const d = await make(3);
      expect(await d.add([1, 2].map((s) => draft(s)))).toBe(0);
      expect(await d.add([3, 4, 5].map((s) => draft(s)))).toBe(2);
      expect(await d.count()).toBe(3);
      expect((await d.list({ limit: 10 })).deadLetters.map((l) => l.seq)).toEqual([3, 4, 5]);
    });

    test('remove takes one away; removing it again (or an unknown id) is false', async () => {
      const d = await make(10);
      await d.add([1, 2, 3].map((s) => draft(s)));
      const [, second] = (await d.list({ limit: 10 })).deadLetters;
      expect(await d.remove(second!.id)).toBe(true);
      expect(await d.remove(second!.id)).toBe(false);
      expect(await d.remove('no-such-id')).toBe(false);
      expect((await d.list({ limit: 10 })).deadLetters.map((l) => l.seq)).toEqual([1, 3]);
      expect(await d.count()).toBe(2);
    });

    test('a cursor past a removed dead letter still continues after it', async () => {
      const d = await make(10);
      await d.add([1, 2, 3].map((s) => draft(s)));
      const first = await d.list({ limit: 1 });
      await d.remove(first.deadLetters[0]!.id);
      const rest = await d.list({ limit: 10, cursor: first.next! });
      expect(rest.deadLetters.map((l) => l.seq)).toEqual([2, 3]);
    });

    test('a malformed cursor is bad_request', async () => {
      const d = await make(10);
      expect(await badRequest(d.list({ limit: 10, cursor: 'not a cursor!' }))).toBe('bad_request');
    });
  });
}
