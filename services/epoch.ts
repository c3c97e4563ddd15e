/**
 * Epochs name one unbroken run of a team's seqs: a new one starts whenever the
 * backend lost the team's history. They are compared, not only matched, so a
 * node can tell a message from before a reset (drop it: its connections were
 * told of the newer epoch) from one after (tell the connection, then deliver).
 * That is why an epoch is the 16-digit microsecond time it was made: the Redis
 * scripts make it from Redis's own clock, never below the last one it made.
 */
const ORDERED = /^\d{16}$/;

export function epochAt(microseconds: number): string {
  return String(Math.floor(microseconds)).padStart(16, '0');
}

/** A fresh epoch from this process's clock (the memory engine's). */
export function newLocalEpoch(): string {
  return epochAt(Date.now() * 1000);
}

/**
 * True when `candidate` began after `known`. Epochs made before they were
 * ordered (8 hex digits) count as older than any ordered one; between two of
 * them the order is unknown, and the new one is taken as newer, so the client
 * is told rather than left with seqs it cannot trust.
 */
export function isNewerEpoch(candidate: string, known: string): boolean {
  if (candidate === known) return false;
  const ordered = ORDERED.test(candidate);
  if (ordered && ORDERED.test(known)) return candidate > known;
  return ordered || !ORDERED.test(known);
}
