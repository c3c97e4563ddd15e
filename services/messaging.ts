import type { Bus } from './bus';
import type { Metrics } from './metrics';
import type { Ack, MessageDraft } from './types';

export interface SendRequest extends MessageDraft {
  ref?: string;
  source: 'socket' | 'api';
}

/** The write path shared by sockets and the admin API. */
export class Messaging {
  /** Bound once: resolving a label set on every message costs a hash per send. */
  private readonly published: Record<SendRequest['source'], { inc(): void }>;

  constructor(
    private readonly bus: Bus,
    metrics: Metrics,
  ) {
    this.published = {
      socket: metrics.messagesPublished.labels('socket'),
      api: metrics.messagesPublished.labels('api'),
    };
  }

  /** Resolves with the ack once the message is stored; the same `ref` again returns the first ack. */
  async send(request: SendRequest): Promise<Ack> {
    const { ref, source, ...draft } = request;
    if (ref === undefined) {
      const message = await this.bus.publish(draft);
      this.published[source].inc();
      return { id: message.id, seq: message.seq };
    }
    // Length-prefixing the user id keeps different users' keys apart whatever their ids hold.
    const ack = await this.bus.publishOnce(
      draft,
      `${draft.from.id.length}:${draft.from.id}:${ref}`,
    );
    this.published[source].inc();
    return ack;
  }
}
