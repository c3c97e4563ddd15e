import { randomUUID } from 'node:crypto';
import type { Idempotency } from '../../services/idempotency';
import type { Ack } from '../../services/types';

export type IdempotencyFactory = () => Promise<Idempotency>;

/** A promise the test settles by hand. */
function gate(): { promise: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * The behaviour of `once` every Idempotency must share (the TTL needs a clock and
 * is tested per implementation). Keys are unique per test.
 */
export function idempotencyContract(name: string, makeIdempotency: IdempotencyFactory): void {
  describe(`idempotency contract: ${name}`, () => {
    let idem: Idempotency | undefined;
    let prefix: string;

    beforeEach(() => {
      prefix = randomUUID().slice(0, 8);
    });

    afterEach(async () => {
      await idem?.close();
      idem = undefined;
    });

    async function start(): Promise<Idempotency> {
      idem = await makeIdempotency();
      return idem;
    }

    const key = (k: string) => `${prefix}:${k}`;

    test('the first call runs produce and returns its ack', async () => {
      const i = await start();
      let runs = 0;
      const ack = await i.once(key('a'), async () => {
        runs++;
        return { id: 'id-1', seq: 1 };
      });
      expect(ack).toEqual({ id: 'id-1', seq: 1 });
      expect(runs).toBe(1);
    });

    test('a repeated key returns the first ack without running produce', async () => {
      const i = await start();
      let runs = 0;
      const produce = async (): Promise<Ack> => {
        runs++;
        return { id: `id-${runs}`, seq: runs };
      };
      const first = await i.once(key('a'), produce);
      const second = await i.once(key('a'), produce);
      const third = await i.once(key('a'), async () => ({ id: 'other', seq: 99 }));
      expect(second).toEqual(first);
      expect(third).toEqual(first);
      expect(runs).toBe(1);
    });

    test('concurrent calls with one key run produce once and share its ack', async () => {
      const i = await start();
      const g = gate();
      let runs = 0;
      const produce = async (): Promise<Ack> => {
        runs++;
        await g.promise;
        return { id: `id-${runs}`, seq: runs };
      };
      const calls = Array.from({ length: 5 }, () => i.once(key('a'), produce));
      g.open();
      const acks = await Promise.all(calls);
      expect(runs).toBe(1);
      for (const ack of acks) expect(ack).toEqual({ id: 'id-1', seq: 1 });
    });

    test('different keys are independent, also concurrently', async () => {
      const i = await start();
      const runs: string[] = [];
      const produce = (k: string) => async (): Promise<Ack> => {
        runs.push(k);
        return { id: k, seq: runs.length };
      };
      const [a, b] = await Promise.all([
        i.once(key('a'), produce('a')),
        i.once(key('b'), produce('b')),
      ]);
      expect(a.id).toBe('a');
      expect(b.id).toBe('b');
      expect([...runs].sort()).toEqual(['a', 'b']);
    });

    test('a failed produce is forgotten: the retry runs produce again', async () => {
      const i = await start();
      let runs = 0;
      const flaky = async (): Promise<Ack> => {
        runs++;
        if (runs === 1) throw new Error('backend down');
        return { id: 'ok', seq: 7 };
      };
      await expect(i.once(key('a'), flaky)).rejects.toThrow('backend down');
      await expect(i.once(key('a'), flaky)).resolves.toEqual({ id: 'ok', seq: 7 });
      await expect(i.once(key('a'), flaky)).resolves.toEqual({ id: 'ok', seq: 7 });
      expect(runs).toBe(2);
    });

    test('the failure reaches the caller unchanged', async () => {
      const i = await start();
      const failure = new Error('unavailable');
      await expect(
        i.once(key('a'), async () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
    });
  });
}
