import type { Ban } from './bans';
import { encodeMessageFrame } from './frames';
import type { Ack, Message, MessageDraft, UserRef } from './types';

/** Signals that travel between nodes besides messages. */
export type ClusterEvent =
  | { kind: 'presence'; teamId: string; event: 'join' | 'leave'; user: UserRef }
  | { kind: 'kick'; connId: string; node: string }
  /** To every node: close the user's sockets (in the team, or all) with 4003. */
  | { kind: 'ban'; ban: Ban }
  /** To every node: the ban was lifted. */
  | { kind: 'unban'; userId: string; teamId: string | null };

/**
 * A message as a node delivers it: what routing needs, and the client frame,
 * encoded once where it was published so receiving nodes never parse the data.
 */
export interface Delivery {
  teamId: string;
  /** The team's epoch the seq belongs to. */
  epoch: string;
  seq: number;
  /** connId of the sending socket, skipped on delivery. */
  origin: string | undefined;
  /** Recipient of a direct message; undefined for a team message. */
  to: string | undefined;
  /** The sender's user id: their other connections also get a direct message. */
  fromId: string;
  /** The `message` frame's JSON (docs/PROTOCOL.md §2). */
  frame: string;
}

export function toDelivery(message: Message, epoch: string): Delivery {
  return {
    teamId: message.teamId,
    epoch,
    seq: message.seq,
    origin: message.origin,
    to: message.to,
    fromId: message.from.id,
    frame: encodeMessageFrame(message),
  };
}

export interface BusListener {
  message(delivery: Delivery): void;
  event(event: ClusterEvent): void;
  /**
   * The node cannot deliver the team's messages of `epoch` up to `seq` (pub/sub
   * dropped them and storage no longer holds them): the team's connections that
   * had not seen them must be told, never left with a silent hole.
   */
  gap(teamId: string, epoch: string, seq: number): void;
}

/**
 * Fan-out between nodes. `publish` is the only write path for messages: it assigns
 * the team's next seq, retains the message and hands it to every subscribed node as
 * one step, so all nodes see a team's messages in seq order.
 */
export interface Bus {
  /** Resolves once the message is stored; rejects with `unavailable` when the backend is down. */
  publish(draft: MessageDraft): Promise<Message>;
  /**
   * `publish`, at most once per key within the idempotency window: a repeated key
   * resolves with the first ack and publishes nothing. The check and the publish
   * are one step, so a retry after a lost ack cannot publish twice. A failed
   * publish is not remembered.
   */
  publishOnce(draft: MessageDraft, key: string): Promise<Ack>;
  emit(event: ClusterEvent): Promise<void>;
  /**
   * Start receiving a team's messages and presence events on this node. Every
   * connection awaits it before reading its starting point; calls for a team that
   * is already subscribed (or subscribing) share the one subscription.
   */
  subscribe(teamId: string): Promise<void>;
  unsubscribe(teamId: string): Promise<void>;
  listen(listener: BusListener): void;
  close(): Promise<void>;
}
