import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { LoopStats } from '../loadgen/loop-stats';

/**
 * Preloaded (`node --require`) into every server process of the bench, Switchboard
 * included, so the app itself carries no bench code. It measures event-loop delay and
 * GC pauses; each SIGUSR2 writes what it saw since the previous one to
 * `$BENCH_LOOP_STATS_DIR/<pid>.json` and starts over. The load generator signals at
 * phase boundaries, so a p99 spike can be put on the server (a long loop turn, a GC
 * pause) or on the machine (neither).
 */

const dir = process.env['BENCH_LOOP_STATS_DIR'];
if (dir) {
  // 1 ms: deliveries take about a millisecond, so coarser steps would hide the stalls
  // that matter; the timer this costs is the same for every arm.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let gcCount = 0;
  let gcTotalMs = 0;
  let gcMaxMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcTotalMs += entry.duration;
      if (entry.duration > gcMaxMs) gcMaxMs = entry.duration;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  delay.enable();
  let since = performance.now();
  process.on('SIGUSR2', () => {
    const now = performance.now();
    // The histogram is in nanoseconds and includes the 1 ms resolution itself.
    const stats: LoopStats = {
      pid: process.pid,
      windowMs: now - since,
      delayP50Ms: delay.percentile(50) / 1e6,
      delayP99Ms: delay.percentile(99) / 1e6,
      delayMaxMs: delay.max / 1e6,
      gcCount,
      gcTotalMs,
      gcMaxMs,
    };
    const file = join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(stats));
    // Renamed so a reader never sees half a file.
    renameSync(`${file}.tmp`, file);
    delay.reset();
    gcCount = 0;
    gcTotalMs = 0;
    gcMaxMs = 0;
    since = now;
  });
}
