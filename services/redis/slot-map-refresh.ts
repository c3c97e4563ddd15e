import type { Cluster } from 'ioredis';

/**
 * Re-reads a cluster client's slot map `ms` after each read ends, from its first
 * 'ready' until its 'end', as ioredis's own `slotsRefreshInterval` does, which it
 * replaces: when a read is in flight at quit() or disconnect(), ioredis arms its
 * timer again as the read ends, then reads an empty pool every interval for ever,
 * and the process that closed the client never exits (ioredis 5.11, 6.0 alike).
 * Here a read that ends after 'end' arms nothing.
 */
export function refreshSlotMapEvery(cluster: Cluster, ms: number): void {
  let timer: NodeJS.Timeout | undefined;
  // Bumped at 'end': a read begun before it does not start a round after it.
  let generation = 0;
  const next = (mine: number): void => {
    timer = setTimeout(() => {
      cluster.refreshSlotsCache(() => {
        if (mine === generation) next(mine);
      });
    }, ms);
  };
  cluster.on('ready', () => {
    if (timer === undefined) next(generation);
  });
  cluster.on('end', () => {
    generation++;
    clearTimeout(timer);
    timer = undefined;
  });
}
