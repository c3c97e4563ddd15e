import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { markdownReport } from './markdown';
import type { Report } from './report';
import { svgChart } from './svg-chart';

/**
 * Writes results.json, README.md and ratios.svg into `dir`. JSON and Markdown go
 * through the repository's Prettier settings, so `npm run lint` stays clean.
 */
export async function writeOutputs(report: Report, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = {
    json: join(dir, 'results.json'),
    markdown: join(dir, 'README.md'),
    ...(report.scenarios.length > 0 ? { svg: join(dir, 'ratios.svg') } : {}),
  };
  const pretty = async (text: string, file: string) =>
    format(text, { ...(await resolveConfig(file)), filepath: file });
  await writeFile(files.json, await pretty(JSON.stringify(report), files.json));
  await writeFile(files.markdown, await pretty(markdownReport(report), files.markdown));
  const m = report.machine;
  if (!files.svg) return Object.values(files);
  await writeFile(
    files.svg,
    svgChart(
      report.scenarios,
      'Ratio to the raw ws arm (median of rounds)',
      `${m.cpuModel}, ${m.logicalCores} cores, Node ${m.nodeVersion}, ${report.generatedAt.slice(0, 10)}, commit ${m.commit}`,
    ),
  );
  return Object.values(files);
}
