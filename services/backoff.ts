/** Reconnect delays: exponential from 100 ms, capped at 5 s, with full jitter over the upper half. */
export function reconnectDelay(times: number, random: () => number = Math.random): number {
  const capped = Math.min(5000, 100 * 2 ** Math.min(times - 1, 16));
  return Math.round(capped / 2 + (random() * capped) / 2);
}
