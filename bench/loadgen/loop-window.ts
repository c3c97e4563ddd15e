import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { LoopStats } from './loop-stats';

/**
 * Event-loop delay and GC pauses of this process, window by window: the servers'
 * probe (servers/loop-probe.ts) and the load generator measure themselves the same way.
 */
export class LoopWindow {
  // 1 ms: deliveries take about a millisecond, so coarser steps would hide the stalls
  // that matter; the timer this costs is the same for every arm.
  private readonly delay = monitorEventLoopDelay({ resolution: 1 });
  private readonly gc: PerformanceObserver;
  private gcCount = 0;
  private gcTotalMs = 0;
  private gcMaxMs = 0;
  private since = performance.now();

  constructor() {
    this.gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcCount++;
        this.gcTotalMs += entry.duration;
        if (entry.duration > this.gcMaxMs) this.gcMaxMs = entry.duration;
      }
    });
    this.gc.observe({ entryTypes: ['gc'] });
    this.delay.enable();
  }

  /** What the window that ends now saw; the next one starts. */
  take(): LoopStats {
    const now = performance.now();
    const { delay } = this;
    // The histogram is in nanoseconds and includes the 1 ms resolution itself.
    const stats: LoopStats = {
      pid: process.pid,
      windowMs: now - this.since,
      delayP50Ms: delay.percentile(50) / 1e6,
      delayP99Ms: delay.percentile(99) / 1e6,
      delayMaxMs: delay.max / 1e6,
      gcCount: this.gcCount,
      gcTotalMs: this.gcTotalMs,
      gcMaxMs: this.gcMaxMs,
    };
    delay.reset();
    this.gcCount = 0;
    this.gcTotalMs = 0;
    this.gcMaxMs = 0;
    this.since = now;
    return stats;
  }

  stop(): void {
    this.delay.disable();
    this.gc.disconnect();
  }
}
