import type { Message } from './types';

/** A message as the archive keeps it: with the epoch its seq belongs to. */
export interface ArchivedMessage extends Message {
  epoch: string;
}

/**
 * What an ArchiveWriter throws when the store refused the batch for its rows'
 * values (not an outage): the same write without those rows would work.
 */
export class RowsRefusedError extends Error {
  constructor(
    /** The store's own words: they may quote the refused value, so never log them. */
    readonly detail: string,
    /** The error number or driver code alone: safe to log. */
    readonly errorId: { number?: number; code?: string },
    options?: ErrorOptions,
  ) {
    super('the archive refused rows for their values', options);
    this.name = 'RowsRefusedError';
  }
}

/** Durable, idempotent storage of accepted messages. */
export interface ArchiveWriter {
  /**
   * Stores the batch; messages already stored (same id) are skipped. Throws
   * RowsRefusedError when a row's values are refused, anything else when the store is down.
   */
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
