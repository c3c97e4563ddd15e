import { toDelivery, type Bus, type BusListener, type ClusterEvent } from '../bus';
import type { MemoryHistory } from './history';
import { AppError } from '../errors';
import type { MemoryBacklog } from './backlog';
import { MemoryIdempotency } from './idempotency';
import type { Ack, Message, MessageDraft } from '../types';

/**
 * In-process fan-out for the single-node embedded engine. Delivery happens inside
 * `publish`, so listeners see messages in the order seqs were assigned.
 */
export class MemoryBus implements Bus {
  private readonly listeners: BusListener[] = [];
  private closed = false;

  private readonly once: MemoryIdempotency;

  constructor(
    private readonly history: MemoryHistory,
    options: { idempotencyTtlMs: number; backlog?: MemoryBacklog },
    private readonly onListenerError: (err: unknown) => void = () => undefined,
  ) {
    this.once = new MemoryIdempotency(options.idempotencyTtlMs);
    this.backlog = options.backlog;
  }

  private readonly backlog: MemoryBacklog | undefined;

  publishOnce(draft: MessageDraft, key: string): Promise<Ack> {
    return this.once.once(`${draft.teamId}\u0000${key}`, async () => {
      const { id, seq } = await this.publish(draft);
      return { id, seq };
    });
  }

  async publish(draft: MessageDraft): Promise<Message> {
    if (this.backlog?.full) {
      throw new AppError('unavailable', 'archive backlog full while the database is down; retry');
    }
    const message = this.history.append(draft);
    this.backlog?.push({ ...message, epoch: this.history.epoch });
    if (!this.closed && this.listeners.length > 0) {
      const delivery = toDelivery(message, this.history.epoch);
      for (const listener of this.listeners) {
        // The message is stored already: a failing listener must not turn it into a failed send.
        try {
          listener.message(delivery);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
    return message;
  }

  async emit(event: ClusterEvent): Promise<void> {
    if (this.closed) return;
    for (const listener of this.listeners) {
      try {
        listener.event(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  // One process holds every connection, so there is nothing to (un)subscribe from.
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}

  listen(listener: BusListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.length = 0;
    this.once.clear();
  }
}
