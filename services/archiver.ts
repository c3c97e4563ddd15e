import type { Logger } from 'pino';
import type { ArchiveWriter, Backlog, BacklogBatch } from './archive';
import { reconnectDelay } from './redis-connection';

export interface ArchiverOptions {
  /** Most messages in one write. */
  batchSize: number;
  /** Longest a message waits for its batch to fill. */
  flushMs: number;
  log: Logger;
  /** Reports the backlog length after every round (a metric). */
  onBacklog?: (length: number) => void;
  /** Waits between failed attempts; injectable so tests need no real clock. */
  delay?: (attempt: number) => Promise<void>;
}

/**
 * Moves accepted messages from the backlog to the archive, off the delivery path.
 * A batch is acknowledged only after it is written, so a failure (or a crash)
 * leaves it in the backlog; writing is idempotent, so a batch written twice is
 * stored once. While the archive is down the same batch is retried with capped
 * backoff, and the outage is logged once.
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
          await this.writer.write(batch.messages);
          await this.backlog.ack(batch);
        }
        held = undefined;
        if (this.failures > 0)
          this.options.log.info({ after: this.failures }, 'archive writing again');
        this.failures = 0;
        this.options.onBacklog?.(await this.backlog.length());
      } catch (err) {
        this.failures++;
        if (this.failures === 1)
          this.options.log.warn({ err }, 'archive write failed; backlog kept, retrying');
        this.options.onBacklog?.(await this.backlog.length().catch(() => -1));
        if (!this.stopped) await (this.options.delay ?? sleep)(this.failures);
      }
    }
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
