import { readFileSync } from 'node:fs';

/** Resident set size in MiB, from /proc (Linux); 0 where /proc is missing. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)/.exec(status);
    return kb ? Math.round(Number(kb[1]) / 102.4) / 10 : 0;
  } catch {
    return 0;
  }
}
