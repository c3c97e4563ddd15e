import type { Backlog, BacklogBatch } from '../archive';
import { ARCHIVE_GROUP, CLAIM_IDLE_MS, claimStale } from './backlog';
import type { RedisClient } from './connection';
import type { RedisKeys } from './keys';
import { decodeBacklogEntry, type StreamEntry } from './payload';
import { SLOTS } from './slot';

/** How often every slot's stream is looked at, unless told otherwise. */
export const SWEEP_MS = CLAIM_IDLE_MS;
/** Sooner than SWEEP_MS after a sweep some slots did not answer. */
const SWEEP_RETRY_MS = 1000;
/** XLENs of a sweep in flight at once. */
const SWEEP_CHUNK = 1024;

export interface SlotBacklogOptions {
  /** Pending entries idle this long belong to a consumer presumed dead. */
  claimIdleMs?: number;
  /** Between two sweeps of every slot's stream. */
  sweepMs?: number;
}

/**
 * The archive backlog on Redis Cluster: one stream per hash slot in use
 * (keys.slotArchive), since the publish script may touch only its team's slot,
 * each read through the same consumer group as the one stream on one Redis.
 *
 * A node reads the streams its own bus appended to (`wrote`) as soon as it did,
 * and every SWEEP_MS looks at all slots' streams (XLEN of each of the SLOTS keys, a
 * cost that does not grow with the data set, unlike SCAN): that finds streams left
 * by nodes that are gone, and entries a dead consumer had taken, which are
 * claimed (XAUTOCLAIM) once idle for claimIdleMs, as on one Redis. No read blocks:
 * a read can name streams of one slot only, so a take that finds nothing waits
 * for this node's next write, the next sweep or the end of waitMs.
 */
export class RedisSlotBacklog implements Backlog {
  private closed = false;
  /** Streams seen to exist, by a sweep or a write of this node: what `length` sums. */
  private readonly known = new Set<string>();
  /** Streams that may hold entries to hand out, oldest mark first. */
  private readonly dirty = new Set<string>();
  private nextSweep = 0;
  private wake: (() => void) | undefined;
  private readonly claimIdleMs: number;
  private readonly sweepMs: number;

  constructor(
    private readonly cmd: RedisClient,
    private readonly keys: RedisKeys,
    private readonly consumer: string,
    options: SlotBacklogOptions = {},
  ) {
    this.claimIdleMs = options.claimIdleMs ?? CLAIM_IDLE_MS;
    this.sweepMs = options.sweepMs ?? SWEEP_MS;
  }

  /** The bus appended to `stream`: it is read at the next take, a waiting take at once. */
  wrote(stream: string): void {
    this.known.add(stream);
    this.dirty.add(stream);
    this.wake?.();
  }

  /** True while a take waits for entries (tests wait for it before they publish). */
  get waiting(): boolean {
    return this.wake !== undefined;
  }

  async start(): Promise<void> {
    await this.sweep();
  }

  async take(max: number, waitMs: number): Promise<BacklogBatch> {
    const deadline = Date.now() + waitMs;
    while (!this.closed) {
      if (Date.now() >= this.nextSweep) await this.sweep();
      const batch = await this.takeAny(max);
      if (batch) return batch;
      const now = Date.now();
      if (now >= deadline || this.closed) break;
      await this.idle(Math.min(deadline, this.nextSweep) - now);
    }
    return { messages: [], receipt: [] };
  }

  /** A batch from the first marked stream that has one; streams without are unmarked. */
  private async takeAny(max: number): Promise<BacklogBatch | undefined> {
    for (const stream of [...this.dirty]) {
      // Unmarked before the read: a write meanwhile marks it again, and is not lost.
      this.dirty.delete(stream);
      let entries: StreamEntry[];
      try {
        entries = await this.read(stream, max);
      } catch (err) {
        this.dirty.add(stream);
        throw err;
      }
      if (entries.length === 0) continue;
      // Marked again at the back: there may be more, and other streams get their turn.
      this.dirty.add(stream);
      return {
        messages: entries.map(decodeBacklogEntry),
        receipt: entries.map((e) => `${e[0]}|${stream}`),
      };
    }
    return undefined;
  }

  private async read(stream: string, max: number): Promise<StreamEntry[]> {
    try {
      return await this.claimOrRead(stream, max);
    } catch (err) {
      // A stream made by XADD has no group yet (nor has a flushed or restarted Redis).
      if (!String((err as Error).message).includes('NOGROUP')) throw err;
      await this.ensureGroup(stream);
      return this.claimOrRead(stream, max);
    }
  }

  /** Entries a dead consumer took, else new ones. */
  private async claimOrRead(stream: string, max: number): Promise<StreamEntry[]> {
    const entries = await claimStale(this.cmd, stream, this.consumer, this.claimIdleMs, max);
    if (entries.length > 0) return entries;
    const result = (await this.cmd.xreadgroup(
      'GROUP',
      ARCHIVE_GROUP,
      this.consumer,
      'COUNT',
      max,
      'STREAMS',
      stream,
      '>',
    )) as [string, StreamEntry[]][] | null;
    return result?.[0]?.[1] ?? [];
  }

  private async ensureGroup(stream: string): Promise<void> {
    try {
      await this.cmd.xgroup('CREATE', stream, ARCHIVE_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /**
   * Marks every slot's stream that holds entries, taken or not: those of nodes gone,
   * and those whose entries a dead consumer holds.
   */
  private async sweep(): Promise<void> {
    let failed = 0;
    let firstError: unknown;
    for (let from = 0; from < SLOTS; from += SWEEP_CHUNK) {
      const streams = Array.from({ length: Math.min(SWEEP_CHUNK, SLOTS - from) }, (_, i) =>
        this.keys.slotArchive(from + i),
      );
      const lengths = await Promise.allSettled(streams.map((s) => this.cmd.xlen(s)));
      streams.forEach((stream, i) => {
        const length = lengths[i];
        if (length?.status === 'fulfilled' && length.value === 0) return;
        if (length?.status === 'rejected') {
          failed++;
          firstError ??= length.reason;
          return;
        }
        this.known.add(stream);
        this.dirty.add(stream);
      });
    }
    // Redis unreachable: the archiver reports it and retries. Some slots unanswered (a
    // master failing over): the streams found are read meanwhile, and the sweep is soon again.
    if (failed === SLOTS) throw firstError;
    this.nextSweep =
      Date.now() + (failed > 0 ? Math.min(this.sweepMs, SWEEP_RETRY_MS) : this.sweepMs);
  }

  async ack(batch: BacklogBatch): Promise<void> {
    const byStream = new Map<string, string[]>();
    for (const receipt of batch.receipt) {
      // An entry id has no `|`; the key after it may.
      const bar = receipt.indexOf('|');
      const stream = receipt.slice(bar + 1);
      const ids = byStream.get(stream);
      if (ids) ids.push(receipt.slice(0, bar));
      else byStream.set(stream, [receipt.slice(0, bar)]);
    }
    for (const [stream, ids] of byStream) {
      await this.cmd
        .multi()
        .xack(stream, ARCHIVE_GROUP, ...ids)
        .xdel(stream, ...ids)
        .exec();
    }
  }

  /**
   * Entries in every stream this node knows of: a stream another node made since
   * this node's last sweep counts from its next one.
   */
  async length(): Promise<number> {
    const lengths = await Promise.all([...this.known].map((s) => this.cmd.xlen(s)));
    return lengths.reduce((sum, n) => sum + n, 0);
  }

  /** Ends a waiting take at once; nothing is held on Redis while it waits. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wake = done;
    });
  }
}
