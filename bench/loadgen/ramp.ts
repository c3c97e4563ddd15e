export interface RampOptions {
  /** How many connections to open, by index 0 to count - 1. */
  count: number;
  /** How many may be opening at once. */
  concurrency: number;
  timeoutMs: number;
  open(index: number): void;
  /** The error when time runs out, given how many had settled. */
  timedOut(settled: number): Error;
}

export interface Ramp {
  /** The ms from the start until every connection settled. */
  readonly done: Promise<number>;
  /** One connection is done opening (ready, or failed where the run counts that): the next opens. */
  settled(): void;
  /** Stops the ramp with `err`. */
  fail(err: Error): void;
}

/**
 * Opens connections a window at a time, each settled one opening the next: a
 * server is measured on what it holds, not on a burst of handshakes it queues.
 */
export function startRamp(options: RampOptions): Ramp {
  const { count, concurrency, timeoutMs } = options;
  const started = performance.now();
  let next = 0;
  let settled = 0;
  let resolveDone: (ms: number) => void = () => undefined;
  let rejectDone: (err: Error) => void = () => undefined;
  const done = new Promise<number>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const timer = setTimeout(() => rejectDone(options.timedOut(settled)), timeoutMs);
  const openNext = () => {
    if (next < count) options.open(next++);
  };
  const ramp: Ramp = {
    done,
    settled() {
      settled++;
      if (settled < count) return openNext();
      clearTimeout(timer);
      resolveDone(performance.now() - started);
    },
    fail(err) {
      clearTimeout(timer);
      rejectDone(err);
    },
  };
  for (let i = 0; i < Math.min(concurrency, count); i++) openNext();
  return ramp;
}
