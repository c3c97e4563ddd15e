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

/**
 * The idle hold as windows of one ping cycle each, lowest CPU reported: a one-off
 * cost lands in one of them, not in both. V8's memory reducer runs two or three
 * full GCs about a minute after the connect storm's allocation stops (0.4 s of CPU
 * at 10,000 connections), which the one 50 s window of earlier runs took for
 * heartbeat cost whenever it fell inside. Fewer than two cycles: one window.
 */
export function pingCycleWindows(askedMs: number, heartbeatMs: number): number[] {
  const totalMs = pingCycleWindowMs(askedMs, heartbeatMs);
  const cycles = Math.round(totalMs / (2 * heartbeatMs));
  return cycles >= 2 ? Array.from({ length: cycles }, () => 2 * heartbeatMs) : [totalMs];
}
