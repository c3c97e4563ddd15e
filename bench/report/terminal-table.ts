import { COLUMNS } from './columns';
import type { ScenarioSummary } from './summarize';

/** Plain text, columns padded; the first column left-aligned, numbers right-aligned. */
export function terminalTable(summary: ScenarioSummary): string {
  const rows = [
    COLUMNS.map((c) => c.title),
    ...summary.arms.map((arm) => COLUMNS.map((c) => c.cell(arm))),
  ];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}
