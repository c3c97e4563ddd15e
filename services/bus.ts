import type { Message, MessageDraft, UserRef } from './types';

/** Signals that travel between nodes besides messages. */
export type ClusterEvent =
  | { kind: 'presence'; teamId: string; event: 'join' | 'leave'; user: UserRef }
  | { kind: 'kick'; connId: string };

export interface BusListener {
  message(message: Message): void;
  event(event: ClusterEvent): void;
}

/**
 * Fan-out between nodes. `publish` is the only write path for messages: it assigns
 * the team's next seq, retains the message and hands it to every subscribed node as
 * one step, so all nodes see a team's messages in seq order.
 */
export interface Bus {
  /** Resolves once the message is stored; rejects with `unavailable` when the backend is down. */
  publish(draft: MessageDraft): Promise<Message>;
  emit(event: ClusterEvent): Promise<void>;
  /** Start receiving a team's messages and presence events on this node. */
  subscribe(teamId: string): Promise<void>;
  unsubscribe(teamId: string): Promise<void>;
  listen(listener: BusListener): void;
  close(): Promise<void>;
}
