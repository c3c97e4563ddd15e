import { count, fixed, ms, ratio } from './format';
import type { ArmSummary } from './summarize';

/** The columns of the results table, shared by the terminal and the Markdown report. */
export interface Column {
  title: string;
  cell(arm: ArmSummary): string;
}

export const COLUMNS: Column[] = [
  { title: 'arm', cell: (a) => a.label },
  { title: 'conn/s', cell: (a) => count(a.median?.connectPerS) },
  { title: 'RSS/conn KB', cell: (a) => fixed(a.median?.rssPerConnectionKB) },
  { title: 'p50 ms', cell: (a) => ms(a.median?.p50Ms) },
  { title: 'p99 ms', cell: (a) => ms(a.median?.p99Ms) },
  { title: 'max ms', cell: (a) => ms(a.median?.maxMs) },
  {
    title: 'loop p99/max ms',
    cell: (a) => `${ms(a.median?.loopDelayP99Ms)}/${ms(a.median?.loopDelayMaxMs)}`,
  },
  { title: 'GC max/sum ms', cell: (a) => `${ms(a.median?.gcMaxMs)}/${ms(a.median?.gcTotalMs)}` },
  {
    title: 'gen loop p99/max ms',
    cell: (a) => `${ms(a.median?.loadgenLoopDelayP99Ms)}/${ms(a.median?.loadgenLoopDelayMaxMs)}`,
  },
  { title: 'gen GC max ms', cell: (a) => ms(a.median?.loadgenGcMaxMs) },
  { title: 'sat. deliv/s', cell: (a) => count(a.median?.saturatedPerS) },
  { title: 'deliv/CPU-s', cell: (a) => count(a.median?.deliveriesPerCpuS) },
  { title: 'x raw (CPU-s)', cell: (a) => ratio(a.ratioToRawWs.deliveriesPerCpuS) },
  { title: 'x raw (p99)', cell: (a) => ratio(a.ratioToRawWs.p99Ms) },
  { title: 'srv CPU %', cell: (a) => fixed(a.median?.serverCpuPct, 0) },
  { title: 'gen CPU %', cell: (a) => fixed(a.median?.loadgenCpuPctSaturated, 0) },
  { title: 'lost', cell: (a) => String(a.lost) },
  { title: 'ok', cell: (a) => `${a.rounds - a.failedRounds}/${a.rounds}` },
];
