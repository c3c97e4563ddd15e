import type { HoldRecord, StormRecord } from '../storms';
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
  'broadcast ms (reached)',
  'p50/p99/max ms',
  'lost',
  'dropped',
];

export function holdRow(r: HoldRecord): string[] {
  const x = r.result;
  if (!x) return [r.label, `FAILED: ${(r.error ?? '').split('\n')[0]}`];
  return [
    r.label,
    `${count(x.held)} / ${count(r.asked)}`,
    count(x.connectPerS),
    fixed(x.rssPerConnectionBytes / 1024),
    fixed(x.idleCpuSPerMin, 2),
    fixed((x.idleCpuSPerMin / 60) * 100, 2),
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
