/**
 * A full GC of the load generator, where it runs with --expose-gc (run-loadgen.ts
 * starts it so); nothing otherwise. Called just before the fixed-load phase: the
 * objects made while connecting 5,000 sockets were still in the young generation,
 * and the first scavenge of the phase copied them out in one 12-21 ms pause, which
 * delayed every delivery due meanwhile (issue 14).
 */
export function collectGarbage(): void {
  const gc: unknown = Reflect.get(globalThis, 'gc');
  if (typeof gc === 'function') gc();
}
