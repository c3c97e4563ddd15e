import type { RedisClient } from './connection';
import { writeTogether } from './write-together';

/**
 * One flush per event-loop turn for the batches that share a Redis client (the
 * head reads and the presence adds of a join storm): each batch's flush writes its
 * script call synchronously (sendScript), and they all run together with the
 * client's sockets corked, so a turn's joins cost one write to Redis, one wakeup of
 * redis-server and one reply read, not one per batch.
 *
 * While a run's calls are unanswered the next waits, and takes every join asked for
 * meanwhile: on a core shared with redis-server a round trip per turn of a few joins
 * costs both processes a wakeup each, so fewer, fuller calls are cheaper, and the
 * joins that wait would mostly have waited behind the calls in flight anyway. This is
 * what ioredis's auto-pipelining did for them before, with a Pipeline object and a
 * Command per call, a turn later.
 *
 * Flushes run in the order they were first scheduled.
 */
export class TurnWrites {
  private flushes: (() => Promise<void>)[] = [];
  /** A run is unanswered, or set to go at setImmediate: nothing else is started meanwhile. */
  private busy = false;

  constructor(private readonly redis: RedisClient) {}

  readonly schedule = (flush: () => Promise<void>): void => {
    this.flushes.push(flush);
    if (this.busy) return;
    this.busy = true;
    setImmediate(this.run);
  };

  private readonly run = (): void => {
    const flushes = this.flushes;
    this.flushes = [];
    const answered: Promise<void>[] = [];
    writeTogether(this.redis, () => {
      for (const flush of flushes) answered.push(flush());
    });
    // A flush never rejects (TurnBatch settles its items instead).
    void Promise.all(answered).then(this.next, this.next);
  };

  private readonly next = (): void => {
    if (this.flushes.length > 0) this.run();
    else this.busy = false;
  };
}
