import type { Logger } from 'pino';
import {
  RowsRefusedError,
  type ArchivedMessage,
  type ArchiveWriter,
  type Backlog,
  type BacklogBatch,
} from './archive';
import type { DeadLetterDraft, DeadLetters } from './dead-letters';
import { reconnectDelay } from './backoff';

export interface ArchiverOptions {
  /** Most messages in one write. */
  batchSize: number;
  /** Longest a message waits for its batch to fill. */
  flushMs: number;
  log: Logger;
  /** Where rows the database refuses for their own values go. */
  deadLetters: DeadLetters;
  /** Reports rows dead-lettered and dead letters dropped past the cap (metrics). */
  onDeadLetters?: (added: number, dropped: number) => void;
  /** Waits between failed attempts; injectable so tests need no real clock. */
  delay?: (attempt: number) => Promise<void>;
}

/**
 * Moves accepted messages from the backlog to the archive, off the delivery path.
 * A batch is acknowledged only after it is written, so a failure (or a crash)
 * leaves it in the backlog; writing is idempotent, so a batch written twice is
 * stored once. While the archive is down the same batch is retried with capped
 * backoff, and the outage is logged once.
 *
 * A batch refused for its rows' values (RowsRefusedError) is split in halves
 * until the refused rows stand alone; they go to dead letters and the rest is
 * written, so one poison row never stops the archive (or, on Redis, every node
 * that claims the batch after this one).
 */
export class Archiver {
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly backlog: Backlog,
    private readonly writer: ArchiveWriter,
    private readonly options: ArchiverOptions,
  ) {}

  get healthy(): boolean {
    return this.failures === 0;
  }

  start(): void {
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    let held: BacklogBatch | undefined;
    while (!this.stopped) {
      try {
        const batch =
          held ?? (await this.backlog.take(this.options.batchSize, this.options.flushMs));
        held = batch;
        if (batch.messages.length > 0) {
          const poison = await this.writeAround(batch.messages);
          // Before the ack: a crash in between only sets them aside twice.
          if (poison.length > 0) await this.deadLetter(poison);
          await this.backlog.ack(batch);
        }
        held = undefined;
        if (this.failures > 0)
          this.options.log.info({ after: this.failures }, 'archive writing again');
        this.failures = 0;
      } catch (err) {
        this.failures++;
        if (this.failures === 1)
          this.options.log.warn({ err }, 'archive write failed; backlog kept, retrying');
        if (!this.stopped) await (this.options.delay ?? sleep)(this.failures);
      }
    }
  }

  /**
   * Writes `messages`, splitting on data errors; resolves with the rows refused on
   * their own. Any other error (an outage) rejects, and the whole batch is kept:
   * what was written meanwhile is skipped by id next time.
   */
  private async writeAround(messages: ArchivedMessage[]): Promise<DeadLetterDraft[]> {
    try {
      await this.writer.write(messages);
      return [];
    } catch (err) {
      if (!(err instanceof RowsRefusedError)) throw err;
      if (messages.length === 1) {
        const message = messages[0]!;
        // Ids and the error number only: the row's data stays out of the logs.
        this.options.log.error(
          {
            messageId: message.id,
            teamId: message.teamId,
            epoch: message.epoch,
            seq: message.seq,
            sqlError: err.errorId,
          },
          'archive refused a message for its data; moved to dead letters',
        );
        return [{ message, error: err.detail }];
      }
      const half = Math.ceil(messages.length / 2);
      const first = await this.writeAround(messages.slice(0, half));
      return [...first, ...(await this.writeAround(messages.slice(half)))];
    }
  }

  private async deadLetter(poison: DeadLetterDraft[]): Promise<void> {
    const dropped = await this.options.deadLetters.add(poison);
    if (dropped > 0)
      this.options.log.warn({ dropped }, 'dead letters full; the oldest were dropped');
    this.options.onDeadLetters?.(poison.length, dropped);
  }

  /** Stops after the current round; what is not acknowledged stays in the backlog. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.backlog.close();
    await this.running;
  }
}

const sleep = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, reconnectDelay(attempt)));
