import { MemoryIdempotency } from '../../services/memory/idempotency';
import type { Ack } from '../../services/types';

const TTL = 10 * 60 * 1000;

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** A produce function that counts its runs and answers with seq = run number. */
function counter(id: string): { produce: () => Promise<Ack>; runs: () => number } {
  let runs = 0;
  return {
    produce: async () => {
      runs++;
      return { id: `${id}-${runs}`, seq: runs };
    },
    runs: () => runs,
  };
}

describe('MemoryIdempotency', () => {
  let clock: ReturnType<typeof manualClock>;
  let idem: MemoryIdempotency;

  beforeEach(() => {
    clock = manualClock();
    idem = new MemoryIdempotency(TTL, clock.now);
  });

  afterEach(async () => {
    idem.clear();
  });

  test('the same key returns the first result and does not run produce again', async () => {
    const c = counter('a');
    const first = await idem.once('user:ref-1', c.produce);
    clock.advance(1000);
    const second = await idem.once('user:ref-1', c.produce);
    expect(first).toEqual({ id: 'a-1', seq: 1 });
    expect(second).toEqual(first);
    expect(c.runs()).toBe(1);
  });

  test('different keys are independent', async () => {
    const a = counter('a');
    const b = counter('b');
    expect(await idem.once('alice:r', a.produce)).toEqual({ id: 'a-1', seq: 1 });
    expect(await idem.once('bob:r', b.produce)).toEqual({ id: 'b-1', seq: 1 });
    expect(await idem.once('alice:r', b.produce)).toEqual({ id: 'a-1', seq: 1 });
    expect(a.runs()).toBe(1);
    expect(b.runs()).toBe(1);
  });

  test('concurrent calls with one key share one produce', async () => {
    const c = counter('c');
    const results = await Promise.all([
      idem.once('k', c.produce),
      idem.once('k', c.produce),
      idem.once('k', c.produce),
    ]);
    expect(c.runs()).toBe(1);
    expect(results).toEqual([results[0], results[0], results[0]]);
  });

  test('a failing produce is forgotten so a retry runs produce again', async () => {
    let runs = 0;
    const flaky = async (): Promise<Ack> => {
      runs++;
      if (runs === 1) throw new Error('backend down');
      return { id: 'ok', seq: 9 };
    };
    await expect(idem.once('k', flaky)).rejects.toThrow('backend down');
    await expect(idem.once('k', flaky)).resolves.toEqual({ id: 'ok', seq: 9 });
    expect(runs).toBe(2);
    // And the success is now remembered.
    await expect(idem.once('k', flaky)).resolves.toEqual({ id: 'ok', seq: 9 });
    expect(runs).toBe(2);
  });

  test('a failure does not evict the entry of another key', async () => {
    const c = counter('c');
    await idem.once('good', c.produce);
    await expect(
      idem.once('bad', async () => {
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    await idem.once('good', c.produce);
    expect(c.runs()).toBe(1);
  });

  test('the first result is kept until just before the TTL', async () => {
    const c = counter('a');
    await idem.once('k', c.produce);
    clock.advance(TTL - 1);
    expect(await idem.once('k', c.produce)).toEqual({ id: 'a-1', seq: 1 });
    expect(c.runs()).toBe(1);
  });

  test('after the TTL the key is forgotten and produce runs again', async () => {
    const c = counter('a');
    await idem.once('k', c.produce);
    clock.advance(TTL);
    expect(await idem.once('k', c.produce)).toEqual({ id: 'a-2', seq: 2 });
    expect(c.runs()).toBe(2);
  });

  test('a repeat does not extend the TTL', async () => {
    const c = counter('a');
    await idem.once('k', c.produce);
    clock.advance(TTL - 1);
    await idem.once('k', c.produce);
    clock.advance(1);
    expect(await idem.once('k', c.produce)).toEqual({ id: 'a-2', seq: 2 });
  });

  test('keys expire independently, each after its own TTL', async () => {
    const a = counter('a');
    const b = counter('b');
    await idem.once('a', a.produce);
    clock.advance(TTL / 2);
    await idem.once('b', b.produce);
    clock.advance(TTL / 2);
    // a has expired, b has not.
    await idem.once('a', a.produce);
    await idem.once('b', b.produce);
    expect(a.runs()).toBe(2);
    expect(b.runs()).toBe(1);
    clock.advance(TTL / 2);
    await idem.once('b', b.produce);
    expect(b.runs()).toBe(2);
  });

  test('a key retried after a failure gets a full TTL from the retry', async () => {
    const c = counter('a');
    await expect(
      idem.once('k', async () => {
        throw new Error('down');
      }),
    ).rejects.toThrow('down');
    clock.advance(TTL - 10);
    await idem.once('k', c.produce);
    clock.advance(TTL - 1);
    await idem.once('k', c.produce);
    expect(c.runs()).toBe(1);
  });

  test('close forgets everything', async () => {
    const c = counter('a');
    await idem.once('k', c.produce);
    idem.clear();
    await idem.once('k', c.produce);
    expect(c.runs()).toBe(2);
  });
});
