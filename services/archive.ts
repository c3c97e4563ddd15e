import type { Message } from './types';

/** A message as the archive keeps it: with the epoch its seq belongs to. */
export interface ArchivedMessage extends Message {
  epoch: string;
}

/** Durable, idempotent storage of accepted messages. */
export interface ArchiveWriter {
  /** Stores the batch; messages already stored (same id) are skipped. Throws when the store is down. */
  write(batch: ArchivedMessage[]): Promise<void>;
}

export interface ArchiveReader {
  /** Up to `limit` messages with seq < before, newest first. */
  before(teamId: string, epoch: string, before: number, limit: number): Promise<Message[]>;
  /** The first `limit` stored messages with after < seq < until, oldest first. */
  between(
    teamId: string,
    epoch: string,
    after: number,
    until: number,
    limit: number,
  ): Promise<Message[]>;
}

/**
 * Accepted messages waiting to be archived. `take` hands out a batch, which stays
 * in the backlog until `ack`: a writer that dies leaves it for another to take.
 */
export interface Backlog {
  take(max: number, waitMs: number): Promise<BacklogBatch>;
  ack(batch: BacklogBatch): Promise<void>;
  length(): Promise<number>;
  close(): Promise<void>;
}

export interface BacklogBatch {
  messages: ArchivedMessage[];
  /** Opaque receipt for `ack`. */
  receipt: string[];
}
