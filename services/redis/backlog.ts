import type { RedisClient } from './connection';
import type { Backlog, BacklogBatch } from '../archive';
import type { RedisKeys } from './keys';
import { decodeBacklogEntry, type StreamEntry } from './payload';

/** Pending entries idle this long belong to a consumer presumed dead; another node takes them. */
export const CLAIM_IDLE_MS = 30_000;
/** The consumer group every node's archiver reads a backlog stream through. */
export const ARCHIVE_GROUP = 'archivers';

/**
 * The archive backlog of the Redis engine: a stream the publish script appends to
 * in the same step as the message itself, read through a consumer group. An entry
 * leaves the stream only after some node wrote it to SQL; entries a dead node had
 * taken are claimed by another after CLAIM_IDLE_MS.
 */
/**
 * Up to `max` entries of `stream` that another consumer of the group took and has not
 * acked for `idleMs` (it died, most likely), now this consumer's. Entries deleted
 * since they were taken come back without fields on Redis 6.2 and are left out.
 */
export async function claimStale(
  cmd: RedisClient,
  stream: string,
  consumer: string,
  idleMs: number,
  max: number,
): Promise<StreamEntry[]> {
  const claimed = (await cmd.xautoclaim(
    stream,
    ARCHIVE_GROUP,
    consumer,
    idleMs,
    '0-0',
    'COUNT',
    max,
  )) as [string, StreamEntry[], string[]];
  return claimed[1].filter((e) => Array.isArray(e[1]));
}

export class RedisBacklog implements Backlog {
  private closed = false;

  constructor(
    private readonly cmd: RedisClient,
    /** A connection of its own: XREADGROUP BLOCK holds it. `close` disconnects it. */
    private readonly blocking: RedisClient,
    private readonly keys: RedisKeys,
    private readonly consumer: string,
    private readonly claimIdleMs: number = CLAIM_IDLE_MS,
  ) {}

  private async ensureGroup(): Promise<void> {
    try {
      await this.cmd.xgroup('CREATE', this.keys.archive(), ARCHIVE_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  async take(max: number, waitMs: number): Promise<BacklogBatch> {
    try {
      return await this.read(max, waitMs);
    } catch (err) {
      // A flushed or restarted Redis has no group: make it and read again.
      if (!String((err as Error).message).includes('NOGROUP')) throw err;
      await this.ensureGroup();
      return this.read(max, waitMs);
    }
  }

  private async read(max: number, waitMs: number): Promise<BacklogBatch> {
    let entries = await claimStale(
      this.cmd,
      this.keys.archive(),
      this.consumer,
      this.claimIdleMs,
      max,
    );
    if (entries.length === 0 && !this.closed) entries = await this.wait(max, waitMs);
    return { messages: entries.map(decodeBacklogEntry), receipt: entries.map((e) => e[0]) };
  }

  private async wait(max: number, waitMs: number): Promise<StreamEntry[]> {
    try {
      const result = (await this.blocking.xreadgroup(
        'GROUP',
        ARCHIVE_GROUP,
        this.consumer,
        'COUNT',
        max,
        'BLOCK',
        waitMs,
        'STREAMS',
        this.keys.archive(),
        '>',
      )) as [string, StreamEntry[]][] | null;
      return result?.[0]?.[1] ?? [];
    } catch (err) {
      // close() cut the read short: nothing was handed out.
      if (this.closed) return [];
      throw err;
    }
  }

  async ack(batch: BacklogBatch): Promise<void> {
    if (batch.receipt.length === 0) return;
    await this.cmd
      .multi()
      .xack(this.keys.archive(), ARCHIVE_GROUP, ...batch.receipt)
      .xdel(this.keys.archive(), ...batch.receipt)
      .exec();
  }

  async length(): Promise<number> {
    return this.cmd.xlen(this.keys.archive());
  }

  async start(): Promise<void> {
    await this.ensureGroup();
  }

  /**
   * Ends a take waiting in XREADGROUP BLOCK at once: the server would hold the read
   * until waitMs is over, so the blocking connection is dropped, which fails it.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.blocking.disconnect();
  }
}
