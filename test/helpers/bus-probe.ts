import type { RedisBus } from '../../services/redis/bus';

/**
 * Resolves once a probe of `bus` comes back, so its node channel subscription is
 * live. The first probe often goes out before the SUBSCRIBE is confirmed (on a
 * cluster, before the shard's subscriber connection exists) and is lost: each try
 * waits twice as long as the one before, from 25 ms up to 1 s, so a subscription
 * that takes a few ms costs a few ms, and a loaded machine still gets long tries.
 */
export async function untilProbed(bus: RedisBus, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 25; ; wait = Math.min(2 * wait, 1000)) {
    if (await bus.probe(wait)) return;
    if (Date.now() > deadline) throw new Error(`no probe came back within ${timeoutMs} ms`);
  }
}
