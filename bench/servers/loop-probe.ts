import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { LoopWindow } from '../loadgen/loop-window';

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
  const loop = new LoopWindow();
  process.on('SIGUSR2', () => {
    const file = join(dir, `${process.pid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(loop.take()));
    // Renamed so a reader never sees half a file.
    renameSync(`${file}.tmp`, file);
  });
}
