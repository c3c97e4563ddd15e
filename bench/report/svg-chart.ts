import { ARMS, BASELINE_ARM, type ArmId } from '../arms';
import { ratio } from './format';
import { RATIO_METRICS, type ScenarioSummary } from './summarize';

/**
 * The ratios to the raw ws arm as an SVG, written by hand: one column per scenario,
 * one row per metric, one bar per arm growing from a dashed line at 1x (raw ws
 * itself) on a log scale.
 */

const COLORS: Record<ArmId, string> = {
  'switchboard-memory': '#1f6feb',
  'switchboard-redis': '#79b8ff',
  'switchboard-cluster': '#0a3069',
  'raw-ws': '#8b949e',
  'raw-ws-corked': '#24292f',
  'socket-io': '#e36209',
};

const LABEL_WIDTH = 250;
const CELL_WIDTH = 330;
const CELL_GAP = 24;
const LABEL_ROOM = 72;
const BAR = 13;
const BAR_GAP = 4;
const TOP = 74;
const ROW_TITLE = 8;

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const legendLabel = (arm: ArmId) =>
  arm === BASELINE_ARM ? `${ARMS[arm].label} (= 1x, dashed line)` : ARMS[arm].label;

export function svgChart(summaries: ScenarioSummary[], title: string, subtitle: string): string {
  const arms = summaries[0]?.arms.map((a) => a.arm) ?? [];
  const rowHeight = arms.length * (BAR + BAR_GAP) + ROW_TITLE + 22;
  const legendWidth = arms.reduce((w, arm) => w + legendLabel(arm).length * 7 + 30, 16);
  const width = Math.max(
    LABEL_WIDTH + summaries.length * (CELL_WIDTH + CELL_GAP) + 20,
    legendWidth,
  );
  const legendY = TOP + RATIO_METRICS.length * rowHeight + 10;
  const height = legendY + 44;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">${escape(title)}</text>`,
    `<text x="16" y="42" fill="#57606a">${escape(subtitle)}</text>`,
  );
  summaries.forEach((s, col) => {
    const x = LABEL_WIDTH + col * (CELL_WIDTH + CELL_GAP);
    out.push(`<text x="${x}" y="${TOP - 12}" font-weight="bold">${escape(s.scenario.name)}</text>`);
  });
  RATIO_METRICS.forEach((metric, row) => {
    const y0 = TOP + row * rowHeight;
    // Log scale around 1x, one per row so scenarios compare along it: 0.5x and 2x
    // sit equally far from the line.
    const logs = summaries.flatMap((s) =>
      s.arms.map((a) => Math.abs(Math.log(a.ratioToRawWs[metric.key] ?? 1))),
    );
    const span = Math.max(Math.log(2), ...logs.filter(Number.isFinite)) * 1.12;
    out.push(
      `<text x="16" y="${y0 + 16}" font-weight="bold">${escape(metric.label)}</text>`,
      `<text x="16" y="${y0 + 32}" fill="#57606a">${metric.better} is better</text>`,
    );
    summaries.forEach((s, col) => {
      const x0 = LABEL_WIDTH + col * (CELL_WIDTH + CELL_GAP);
      // Room on both sides for the value labels.
      const half = (CELL_WIDTH - 2 * LABEL_ROOM) / 2;
      const center = x0 + LABEL_ROOM + half;
      const at = (value: number) => center + (Math.log(value) / span) * half;
      const bottom = y0 + rowHeight - 14;
      // Grid lines at powers of two, then the 1x line, so bars and labels lie on top.
      // Every other power of two when they would crowd each other.
      const step = (Math.log(2) / span) * half < 24 ? 2 : 1;
      for (let p = -6; p <= 6; p += step) {
        if (p === 0 || Math.abs(p * Math.log(2)) > span) continue;
        const x = at(2 ** p).toFixed(1);
        const tick = p > 0 ? `${2 ** p}x` : `1/${2 ** -p}`;
        out.push(
          `<line x1="${x}" y1="${y0 + 4}" x2="${x}" y2="${bottom}" stroke="#eaeef2"/>`,
          `<text x="${x}" y="${bottom + 10}" font-size="9" fill="#8c959f" text-anchor="middle">${tick}</text>`,
        );
      }
      out.push(
        `<line x1="${center.toFixed(1)}" y1="${y0 + 4}" x2="${center.toFixed(1)}" y2="${bottom}" stroke="#cf222e" stroke-dasharray="4 3"/>`,
      );
      s.arms.forEach((a, i) => {
        const y = y0 + ROW_TITLE + i * (BAR + BAR_GAP);
        const value = a.ratioToRawWs[metric.key];
        if (value === undefined || !Number.isFinite(value) || value <= 0) {
          out.push(`<text x="${center + 4}" y="${y + BAR - 2}" fill="#57606a">n/a</text>`);
          return;
        }
        const x = at(value);
        const left = Math.min(center, x);
        const width = Math.max(1, Math.abs(x - center));
        const partial = a.failedRounds > 0 ? ` (${a.rounds - a.failedRounds}/${a.rounds})` : '';
        const label = `${ratio(value)}${partial}`;
        const labelX = value >= 1 ? left + width + 4 : left - 4;
        out.push(
          `<rect x="${left.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${BAR}" fill="${COLORS[a.arm]}"><title>${escape(`${a.label}: ${label}`)}</title></rect>`,
          `<text x="${labelX.toFixed(1)}" y="${y + BAR - 2}" text-anchor="${value >= 1 ? 'start' : 'end'}">${escape(label)}</text>`,
        );
      });
    });
  });
  let lx = 16;
  for (const arm of arms) {
    const label = legendLabel(arm);
    out.push(
      `<rect x="${lx}" y="${legendY}" width="12" height="12" fill="${COLORS[arm]}"/>`,
      `<text x="${lx + 17}" y="${legendY + 11}">${escape(label)}</text>`,
    );
    lx += 30 + label.length * 7;
  }
  out.push(
    `<text x="16" y="${legendY + 30}" fill="#57606a">(n/m): only n of m rounds completed; the median is of those.</text>`,
    '</svg>',
    '',
  );
  return out.join('\n');
}
