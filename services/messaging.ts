import type { Bus } from './bus';
import type { Idempotency } from './idempotency';
import type { Metrics } from './metrics';
import type { Ack, MessageDraft } from './types';

export interface SendRequest extends MessageDraft {
  ref?: string;
  source: 'socket' | 'api';
}

/** The write path shared by sockets and the admin API. */
export class Messaging {
  constructor(
    private readonly bus: Bus,
    private readonly idempotency: Idempotency,
    private readonly metrics: Metrics,
  ) {}

  /** Resolves with the ack once the message is stored; the same `ref` again returns the first ack. */
  send(request: SendRequest): Promise<Ack> {
    const { ref, source, ...draft } = request;
    const publish = async (): Promise<Ack> => {
      const message = await this.bus.publish(draft);
      this.metrics.messagesPublished.inc({ source });
      return { id: message.id, seq: message.seq };
    };
    if (ref === undefined) return publish();
    // NUL cannot occur in ids, so keys of different users or teams never collide.
    return this.idempotency.once(`${draft.teamId}\u0000${draft.from.id}\u0000${ref}`, publish);
  }
}
