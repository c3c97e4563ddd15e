/**
 * A child process this checkout started, tracked so that every one of them is
 * killed when the parent ends, however it ends (scripts, the bench, test runs).
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const started = new Set<ChildProcess>();

/** Kills everything started through `manage` that still runs (exit hook; tests' afterAll). */
export function killAll(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  started.clear();
}

// 'exit' handlers must be synchronous: SIGKILL is the only thing that fits.
process.on('exit', killAll);

/**
 * For scripts only: SIGINT/SIGTERM kill what was started and end the process.
 * Not installed on import, because under jest it would replace jest's own handling.
 */
export function exitOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Kills everything still running and ends the process after `ms`, whatever is pending. */
export function watchdog(ms: number, what: string): NodeJS.Timeout {
  const timer = setTimeout(() => {
    process.stderr.write(
      `${what}: watchdog fired after ${Math.round(ms / 1000)} s; killing everything\n`,
    );
    killAll();
    process.exit(2);
  }, ms);
  timer.unref();
  return timer;
}

export interface Managed {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (null after a signal) once the process has gone. */
  exited: Promise<number | null>;
}

export function manage(child: ChildProcess): Managed {
  started.add(child);
  const exited = once(child, 'exit').then(([code]) => {
    started.delete(child);
    return code as number | null;
  });
  return { child, pid: child.pid ?? 0, exited };
}

function running(p: Managed): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** kill -9 and wait until the process is gone: connections drop at once, nothing is flushed. */
export async function kill9(p: Managed): Promise<void> {
  if (running(p)) p.child.kill('SIGKILL');
  await p.exited;
}

/** SIGSTOP: the process freezes with its sockets open, as under a long GC pause or a VM stall. */
export function pause(p: Managed): void {
  if (running(p)) p.child.kill('SIGSTOP');
}

/** SIGCONT after `pause`: the process runs everything it was sent meanwhile, in order. */
export function resume(p: Managed): void {
  if (running(p)) p.child.kill('SIGCONT');
}

/** SIGTERM (the graceful path), then SIGKILL if it has not exited within `ms`. */
export async function stop(p: Managed, ms = 10_000): Promise<void> {
  if (!running(p)) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  await p.exited;
  clearTimeout(timer);
}
