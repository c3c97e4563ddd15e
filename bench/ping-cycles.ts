/**
 * The idle window of the C100k run, in whole ping cycles. An idle connection is
 * pinged at every other look of the heartbeat (a look after a pong finds it heard
 * from and skips it), and looked at once per beat, so in any window of exactly two
 * beats each connection is pinged once, whatever its phase. A window of 60 s at
 * 25 s beats holds 1 or 2 pings per connection by phase, where the figure assumes
 * 1.2 for all; a connect of a few seconds puts most connections' pings in one half
 * of the cycle, so where the window falls moved the figure by tens of percent.
 *
 * Rounded to the nearest whole number of cycles; a window shorter than half a cycle
 * (a smoke test's) is kept as asked, since it can measure no beat anyway.
 */
export function pingCycleWindowMs(askedMs: number, heartbeatMs: number): number {
  const cycles = Math.round(askedMs / (2 * heartbeatMs));
  return cycles >= 1 ? cycles * 2 * heartbeatMs : askedMs;
}
