import type { ArchivedMessage, Backlog, BacklogBatch } from '../archive';

/**
 * The archive backlog of the embedded engine: in this process, bounded. When it is
 * full (the archive has been down long enough), publishing is refused with
 * `unavailable` rather than accepting messages that could not be archived.
 */
export class MemoryBacklog implements Backlog {
  private readonly queue: ArchivedMessage[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly max: number) {}

  get full(): boolean {
    return this.queue.length >= this.max;
  }

  push(message: ArchivedMessage): void {
    this.queue.push(message);
    this.wake?.();
  }

  async take(max: number, waitMs: number): Promise<BacklogBatch> {
    if (this.queue.length < max && !this.closed) {
      // Wait until the batch is full or the wait is over, whichever comes first.
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(finish, waitMs);
        this.wake = () => {
          if (this.queue.length >= max || this.closed) finish();
        };
      });
    }
    const messages = this.queue.slice(0, max);
    return { messages, receipt: messages.map((m) => m.id) };
  }

  async ack(batch: BacklogBatch): Promise<void> {
    // One consumer per process: the acknowledged batch is the head of the queue.
    if (batch.receipt.length > 0 && this.queue[0]?.id === batch.receipt[0])
      this.queue.splice(0, batch.receipt.length);
  }

  async length(): Promise<number> {
    return this.queue.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }
}
