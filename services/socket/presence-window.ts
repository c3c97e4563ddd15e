/**
 * Members per step of the presence window: a team of up to this many local members
 * holds presence for the configured window, each further step adds one window more.
 */
export const PRESENCE_WINDOW_STEP = 100;

/**
 * Longest the window grows to (unless the configured one is longer). Past about
 * 4,000 local members at the default 25 ms the writes per second grow with the team
 * again, but a presence frame is never held longer than this.
 */
export const PRESENCE_WINDOW_MAX_MS = 1_000;

/**
 * How long a team with `members` local members holds presence frames after one went
 * out: `baseMs` per started step of PRESENCE_WINDOW_STEP members, capped at
 * PRESENCE_WINDOW_MAX_MS (never below `baseMs`). Every release writes once to each
 * member, so a window that grows with the team keeps the team's presence writes per
 * second about members / window = STEP / baseMs (4,000/s at 25 ms) however large it
 * gets: joins that trickle into a big team slower than one per fixed window would
 * otherwise each cost a write per member, O(n²) writes to fill a team of n.
 */
export function presenceWindowMs(baseMs: number, members: number): number {
  const steps = Math.max(1, Math.ceil(members / PRESENCE_WINDOW_STEP));
  return Math.min(baseMs * steps, Math.max(baseMs, PRESENCE_WINDOW_MAX_MS));
}
