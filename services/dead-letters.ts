import type { ArchivedMessage } from './archive';
import { messageView, type MessageView } from './frames';

/**
 * A message SQL Server refused for its own values (a poison row): kept here, out
 * of the backlog, so the archive goes on writing the rest; an admin lists it
 * (GET /api/dead-letters) and deletes it once dealt with.
 */
export interface DeadLetter {
  /** Opaque, increasing: the order they were added in. */
  id: string;
  teamId: string;
  epoch: string;
  seq: number;
  /** The server's error number and message, e.g. `2628: String or binary data would be truncated…`. */
  error: string;
  /** ISO-8601, when it was set aside. */
  at: string;
  message: MessageView;
}

export interface DeadLetterDraft {
  message: ArchivedMessage;
  error: string;
}

/** What a dead letter holds besides its id, as every implementation stores it. */
export function deadLetterBody(
  { message, error }: DeadLetterDraft,
  at: string,
): Omit<DeadLetter, 'id'> {
  return {
    teamId: message.teamId,
    epoch: message.epoch,
    seq: message.seq,
    error,
    at,
    message: messageView(message),
  };
}

export interface DeadLetterPage {
  deadLetters: DeadLetter[];
  /** Cursor for the next page; null on the last. */
  next: string | null;
}

/** Rows one node dead-lettered, and dead letters it dropped past the cap, since start. */
export interface DeadLetterCounts {
  added: number;
  dropped: number;
}

/**
 * Default most dead letters held; past it the oldest are dropped (and counted).
 * Each keeps its message, up to MAX_MESSAGE_BYTES, so this bounds memory (or
 * Redis) at about 64 MiB with the default message limit.
 */
export const DEAD_LETTERS_MAX = 1000;

/** Bounded storage of dead letters, oldest first. */
export interface DeadLetters {
  /** Keeps the drafts; resolves with how many of the oldest were dropped past the cap. */
  add(drafts: DeadLetterDraft[]): Promise<number>;
  /** Oldest first, after `cursor`; a malformed cursor is `bad_request`. */
  list(page: { limit: number; cursor?: string }): Promise<DeadLetterPage>;
  /** False when there is no such dead letter. */
  remove(id: string): Promise<boolean>;
  /** How many are held (cluster-wide on Redis). */
  count(): Promise<number>;
}
