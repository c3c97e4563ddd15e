import type { LatencySummary } from './contract';

/** Latency samples in a fixed array (no growth during a phase), summarized at the end. */
export class LatencyRecorder {
  private readonly samples: Float64Array;
  private count = 0;
  private max = 0;

  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    if (ms > this.max) this.max = ms;
    // Past capacity the max still counts; percentiles use the first `capacity` samples.
    if (this.count < this.samples.length) this.samples[this.count++] = ms;
  }

  reset(): void {
    this.count = 0;
    this.max = 0;
  }

  summary(): LatencySummary {
    if (this.count === 0) return { samples: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const sorted = this.samples.slice(0, this.count).sort();
    const at = (q: number) => sorted[Math.min(this.count - 1, Math.floor(q * this.count))];
    return { samples: this.count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: this.max };
  }
}
