/** What a batch gives back for one of its items, in the items' order. */
export type ItemResult<O> = { ok: true; value: O } | { ok: false; error: unknown };

/**
 * Gathers the items asked for in one turn of the event loop and runs them as one
 * batch at setImmediate: a join storm issues the same few Redis calls per
 * connection, and one call for all of a turn's costs Redis and the node a
 * fraction of one each. setImmediate, not nextTick: joins continue in promise
 * callbacks, which all run before it, so a turn's joins land in one batch.
 *
 * `run` answers per item; if it rejects, every item of the batch rejects with
 * its error. `schedule` runs the flush later in the turn: setImmediate unless
 * batches share one (TurnWrites, so that a turn's commands leave in one write).
 */
export class TurnBatch<I, O> {
  private pending: { item: I; resolve: (value: O) => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly run: (items: I[]) => Promise<ItemResult<O>[]>,
    private readonly schedule: (flush: () => Promise<void>) => void = setImmediate,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      if (this.pending.length === 0) this.schedule(this.flush);
      this.pending.push({ item, resolve, reject });
    });
  }

  /** Settles once every item of the batch is. */
  private readonly flush = (): Promise<void> => {
    const batch = this.pending;
    this.pending = [];
    let running: Promise<ItemResult<O>[]>;
    try {
      running = this.run(batch.map((p) => p.item));
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(
      (results) =>
        batch.forEach((p, i) => {
          const result = results[i];
          if (result === undefined) p.reject(new Error('no result for a batched item'));
          else if (result.ok) p.resolve(result.value);
          else p.reject(result.error);
        }),
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  };
}
