import { readFileSync } from 'node:fs';

/**
 * CPU time and RSS of another process, read from /proc (Linux). The load generator
 * reads the servers' figures itself at phase boundaries, so no extra round trip
 * through the orchestrator blurs the windows.
 */

/** user + system CPU seconds the process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number, clockTicksPerS: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Field 2 (comm) is in parentheses and may hold spaces; count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerS;
}

export function totalCpuSeconds(pids: readonly number[], clockTicksPerS: number): number {
  let sum = 0;
  for (const pid of pids) sum += cpuSeconds(pid, clockTicksPerS);
  return sum;
}

/** Resident set size in bytes; 0 once the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** User and system CPU seconds the process has used so far, apart; zeros once it is gone. */
export function cpuTimes(pid: number, clockTicksPerS: number): { user: number; sys: number } {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { user: 0, sys: 0 };
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / clockTicksPerS, sys: Number(fields[12]) / clockTicksPerS };
}

/**
 * Write-family system calls (write, writev, sendmsg...) the process has made so far,
 * from /proc/<pid>/io; 0 once it is gone or where the file cannot be read. On a
 * socket server each is one hand-off to the kernel: a count that CPU time on a
 * shared machine blurs (a presence window that coalesces less shows here first).
 */
export function writeCalls(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const match = /^syscw:\s+(\d+)$/m.exec(io);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** writeCalls summed over processes, as totalCpuSeconds sums their CPU. */
export function totalWriteCalls(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += writeCalls(pid);
  return sum;
}
