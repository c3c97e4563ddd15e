import type { Ack } from '../types';

interface Entry {
  expires: number;
  result: Promise<Ack>;
}

/**
 * Runs `produce` once per key within the TTL; later calls with the key get the
 * first result. A failed `produce` is forgotten so a retry works. The memory bus
 * builds `publishOnce` on it.
 */
export class MemoryIdempotency {
  // Insertion order is expiry order (one TTL for all), so pruning only looks at the front.
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  once(key: string, produce: () => Promise<Ack>): Promise<Ack> {
    const now = this.now();
    this.prune(now);
    const existing = this.entries.get(key);
    if (existing) return existing.result;
    const result = produce();
    this.entries.set(key, { expires: now + this.ttlMs, result });
    result.catch(() => {
      if (this.entries.get(key)?.result === result) this.entries.delete(key);
    });
    return result;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expires > now) break;
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
