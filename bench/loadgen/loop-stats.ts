import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Event-loop delay and GC pauses of one server process over one window (see servers/loop-probe.ts). */
export interface LoopStats {
  pid: number;
  windowMs: number;
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function parse(text: string): LoopStats | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const pid: unknown = Reflect.get(value, 'pid');
    return typeof pid === 'number' ? (value as LoopStats) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks every server process for the figures of the window that ends now (and starts
 * the next one): a SIGUSR2, then its answer file. A process without the probe, or
 * one that is gone, gives nothing after `timeoutMs`.
 */
export async function collectLoopStats(
  dir: string | undefined,
  pids: readonly number[],
  timeoutMs = 2000,
): Promise<LoopStats[]> {
  if (!dir) return [];
  const files = pids.map((pid) => join(dir, `${pid}.json`));
  for (const file of files) rmSync(file, { force: true });
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGUSR2');
    } catch {
      // gone: nothing to collect
    }
  }
  const out: LoopStats[] = [];
  const deadline = performance.now() + timeoutMs;
  const pending = new Set(files);
  while (pending.size > 0 && performance.now() < deadline) {
    for (const file of [...pending]) {
      if (!existsSync(file)) continue;
      const stats = parse(readFileSync(file, 'utf8'));
      if (stats) out.push(stats);
      pending.delete(file);
    }
    if (pending.size > 0) await sleep(5);
  }
  return pids.flatMap((pid) => out.filter((s) => s.pid === pid));
}
