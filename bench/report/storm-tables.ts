import { HOLD_HEARTBEAT_MS, type HoldRecord, type StormRecord } from '../storms';
import { count, fixed, ms } from './format';

/** Rows of the reconnect-storm and C100k tables, for the terminal and the Markdown report. */

const seconds = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? 'n/a' : (v / 1000).toFixed(2);

export const STORM_HEADER = [
  'arm',
  'clients',
  'disconnected',
  'back',
  'all back s',
  'p50/p99 back s',
  'refused tries',
  'resumed ok/incomplete',
  'lost',
  'dup',
  'undisturbed p99 ms',
];

export function stormRow(r: StormRecord): string[] {
  const x = r.result;
  if (!x) return [r.label, `FAILED: ${(r.error ?? '').split('\n')[0]}`];
  const resumes = x.resumedComplete + x.resumedIncomplete > 0;
  return [
    r.label,
    count(x.connections),
    count(x.disconnected),
    count(x.back),
    seconds(x.allBackMs),
    `${seconds(x.p50BackMs)}/${seconds(x.p99BackMs)}`,
    count(x.failedAttempts),
    resumes ? `${count(x.resumedComplete)}/${count(x.resumedIncomplete)}` : 'n/a',
    resumes ? String(x.lost) : 'n/a',
    resumes ? String(x.duplicated) : 'n/a',
    x.undisturbed.samples > 0 ? ms(x.undisturbed.p99Ms) : 'n/a',
  ];
}

export const HOLD_HEADER = [
  'arm',
  'held / asked',
  'conn/s',
  'RSS/conn KB',
  'idle CPU s/min',
  'idle % core',
  'heartbeat µs/conn/beat',
  '% core at 100k',
  'broadcast ms (reached)',
  'p50/p99/max ms',
  'lost',
  'dropped',
];

/** Held connections in the C100k goal (issue #14): the heartbeat figure is extrapolated to it. */
export const C100K = 100_000;

/**
 * Server CPU per connection per heartbeat while idle, in µs, and that cost as a share
 * of a core at C100K connections (linear): the idle CPU with every connection held,
 * less the idle CPU before the first one (timers, stats sampling). Results from before
 * that was measured count all idle CPU, an upper bound.
 */
export function heartbeatCost(r: HoldRecord): { usPerConnBeat: number; coreAtC100k: number } {
  const x = r.result;
  if (!x || x.held === 0) return { usPerConnBeat: NaN, coreAtC100k: NaN };
  const cpuPerS = Math.max(0, x.idleCpuSPerMin - (x.emptyCpuSPerMin ?? 0)) / 60;
  const beatS = (r.heartbeatMs ?? HOLD_HEARTBEAT_MS) / 1000;
  return {
    usPerConnBeat: ((cpuPerS * beatS) / x.held) * 1e6,
    coreAtC100k: (cpuPerS * C100K) / x.held,
  };
}

/** Whether `ulimit -n` held the run below the connections asked for. */
export function cappedByFdLimit(r: HoldRecord): boolean {
  return r.fdLimit - 1000 < r.asked;
}

/** Plain sentences under the C100k table: the cap, and the heartbeat cost per connection. */
export function holdSummary(r: HoldRecord): string[] {
  const x = r.result;
  if (!x) return [];
  const lines: string[] = [];
  if (cappedByFdLimit(r)) {
    lines.push(
      `Capped by \`ulimit -n\`: ${count(r.asked)} connections were asked for, the fd limit is ${count(r.fdLimit)} ` +
        `(not raisable here), so the run held ${count(x.held)}. Figures at ${count(C100K)} are extrapolated, not measured.`,
    );
  }
  const { usPerConnBeat, coreAtC100k } = heartbeatCost(r);
  const windows = x.idleWindowsCpuSPerMin ?? [];
  const quietest =
    windows.length > 1
      ? `the quietest of ${windows.length} idle windows of one ping cycle (${windows.map((w) => fixed(w, 2)).join(', ')} s/min), `
      : '';
  const counted =
    x.emptyCpuSPerMin === undefined
      ? 'all idle CPU counted'
      : `${quietest}idle CPU less the ${fixed(x.emptyCpuSPerMin, 2)} s/min it used with no connection`;
  lines.push(
    `Heartbeat: ${fixed(usPerConnBeat, 1)} µs of server CPU per connection per beat ` +
      `(HEARTBEAT_MS ${count(r.heartbeatMs ?? HOLD_HEARTBEAT_MS)}, ${counted}), so ` +
      `${fixed(coreAtC100k * 100, 1)} % of a core at ${count(C100K)} connections (goal: under 5 %).`,
  );
  if (r.loopbackReferenceUs !== undefined) {
    // The VM's speed moves by a factor of two over a day: this puts runs side by side.
    lines.push(
      `Machine speed at the time: ${fixed(r.loopbackReferenceUs, 1)} µs of CPU per loopback ping/pong round trip ` +
        `(bench/loopback-reference.ts); the heartbeat figure is ${fixed(usPerConnBeat / r.loopbackReferenceUs, 2)} of those.`,
    );
  }
  return lines;
}

export function holdRow(r: HoldRecord): string[] {
  const x = r.result;
  if (!x) return [r.label, `FAILED: ${(r.error ?? '').split('\n')[0]}`];
  const { usPerConnBeat, coreAtC100k } = heartbeatCost(r);
  return [
    r.label,
    `${count(x.held)} / ${count(r.asked)}${cappedByFdLimit(r) ? ` (ulimit -n ${count(r.fdLimit)})` : ''}`,
    count(x.connectPerS),
    fixed(x.rssPerConnectionBytes / 1024),
    fixed(x.idleCpuSPerMin, 2),
    fixed((x.idleCpuSPerMin / 60) * 100, 2),
    fixed(usPerConnBeat, 1),
    fixed(coreAtC100k * 100, 1),
    `${ms(x.broadcastMs)} (${count(x.broadcastReached)})`,
    `${ms(x.latency.p50Ms)}/${ms(x.latency.p99Ms)}/${ms(x.latency.maxMs)}`,
    String(x.latency.lost),
    String(x.dropped),
  ];
}

export function markdownTable(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

export function plainTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
