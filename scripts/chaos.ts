/**
 * Jepsen-style check of the delivery promise (npm run chaos; a short version runs
 * in CI as test/chaos/chaos-short.test.ts). Starts its own redis-server and three
 * nodes on 127.0.0.1, runs clients through every fault of the schedule in
 * lib/chaos-run.ts, once with Redis on an fsynced AOF and once without
 * persistence, and checks every client's stream (lib/chaos-check.ts). Prints a
 * table of figures per mode; exits 1 on any loss, duplicate, reorder, silent gap,
 * unsent message or conflict. Stops by itself; everything it started is killed
 * when it ends, however it ends.
 *
 *   npm run chaos -- [--seconds 40] [--clients 30] [--teams 5] [--rate 4]
 *                    [--persistence aof|none|both] [--ttl 8] [--out file.json]
 *                    [--cluster]  (a Redis Cluster of three masters instead of one redis-server)
 *                    [--timeline frames.json]  (every client's recorded frames, for a closer look)
 */
import { writeFileSync } from 'node:fs';
import { check } from './lib/chaos-check';
import { runChaos, FAULT_KINDS, type ChaosReport, type Persistence } from './lib/chaos-run';
import { CLUSTER_NOTES } from './lib/chaos-redis';
import { boolFlag, intFlag, stringFlag } from './lib/flags';
import { exitOnSignals, watchdog } from '../support/managed';
import { runScript } from './lib/run-script';

const seconds = intFlag('seconds', 40, 20, 600);
const clients = intFlag('clients', 30, 9, 300);
const teams = intFlag('teams', 5, 3, 30);
const rate = intFlag('rate', 4, 1, 20);
const ttl = intFlag('ttl', 8, 7, 60);
const out = stringFlag('out');
const timelineFile = stringFlag('timeline');
const which = stringFlag('persistence') ?? 'both';
if (!['aof', 'none', 'both'].includes(which))
  throw new Error(`--persistence must be aof, none or both (got ${which})`);
const modes: Persistence[] = which === 'both' ? ['aof', 'none'] : [which as Persistence];
const topology = boolFlag('cluster') ? 'cluster' : 'single';

function table(reports: ChaosReport[]): string {
  const rows: [string, (r: ChaosReport) => number | string][] = [
    ['messages sent', (r) => r.result.sent],
    ['acked', (r) => r.result.acked],
    ['never acked', (r) => r.result.unacked],
    ['delivered (frames)', (r) => r.result.delivered],
    ...FAULT_KINDS.map((k): [string, (r: ChaosReport) => number] => [
      `fault: ${k}`,
      (r) => r.faults[k],
    ]),
    ['LOST (teammate, not told)', (r) => r.result.lost],
    ['LOST from the store', (r) => r.result.lostFromStore],
    ['DUPLICATED', (r) => r.result.duplicated],
    ['REORDERED', (r) => r.result.reordered],
    ['SILENT GAPS', (r) => r.result.silentGaps],
    ['  seqs skipped', (r) => r.result.silent.skipped],
    ['  reset seen, no notice', (r) => r.result.silent.reset],
    ['  epoch never announced', (r) => r.result.silent.unannouncedEpoch],
    ['  tail never delivered', (r) => r.result.silent.tail],
    ['UNSENT', (r) => r.result.unsent],
    ['REF CONFLICTS', (r) => r.result.refConflicts],
    ['SEQ CONFLICTS', (r) => r.result.seqConflicts],
    ['UNAVAILABLE BUT STORED', (r) => r.result.unavailableButStored],
    ['notified gaps (told)', (r) => r.result.notifiedGaps],
    ['notices: epoch frames', (r) => r.result.notices.epoch],
    ['notices: resumed complete:false', (r) => r.result.notices.incompleteResume],
    ['refs reissued in a new epoch', (r) => r.result.refsReissued],
    ['indeterminate answers', (r) => r.result.indeterminate],
    ['resends', (r) => r.result.resends],
    ['reconnects', (r) => r.reconnects],
    ['verdict', (r) => (r.pass ? 'PASS' : 'FAIL')],
  ];
  const head = ['', ...reports.map((r) => `${r.topology} ${r.persistence}`)];
  const lines = [head, ...rows.map(([name, f]) => [name, ...reports.map((r) => String(f(r)))])];
  const width = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) =>
      l
        .map((cell, i) => (i === 0 ? cell.padEnd(width[i]!) : cell.padStart(width[i]! + 2)))
        .join(''),
    )
    .join('\n');
}

/** The checker once per team: which kind of team (so which faults) each finding comes from. */
function byTeam(reports: ChaosReport[]): string {
  const lines = [
    'by team: lost / skipped / reset / unannounced epoch / tail / unavailable-but-stored',
  ];
  for (const r of reports) {
    const teams = [...new Set(r.timeline.clients.map((c) => c.team))];
    for (const team of teams) {
      const res = check({
        clients: r.timeline.clients.filter((c) => c.team === team),
        finals: r.timeline.finals.filter((f) => f.team === team),
      });
      const { skipped, reset, unannouncedEpoch, tail } = res.silent;
      const figures = [res.lost + res.lostFromStore, skipped, reset, unannouncedEpoch, tail];
      const name = team.slice(team.indexOf('-') + 1);
      lines.push(
        `  ${r.persistence.padEnd(4)} ${name.padEnd(8)} ${[...figures, res.unavailableButStored].join(' / ')}`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<boolean> {
  exitOnSignals();
  watchdog(modes.length * (seconds * 1000 + 3 * 60_000), 'chaos');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const reports: ChaosReport[] = [];
  if (topology === 'cluster') for (const note of CLUSTER_NOTES) log(`chaos[cluster] ${note}`);
  for (const persistence of modes) {
    reports.push(
      await runChaos({
        persistence,
        topology,
        seconds,
        clients,
        teams,
        rate,
        historyTtlSeconds: ttl,
        presenceLeaseMs: 1500,
        log,
      }),
    );
  }
  for (const r of reports) {
    process.stdout.write(`\n[${r.persistence}] faults: ${JSON.stringify(r.faultLog)}\n`);
    for (const f of r.result.findings)
      process.stdout.write(`[${r.persistence}] ${f.kind} ${f.client ?? '-'} ${f.detail}\n`);
    if (r.unexpectedErrors.length > 0)
      process.stdout.write(
        `[${r.persistence}] unexpected error frames: ${r.unexpectedErrors.join(' | ')}\n`,
      );
    if (r.serverErrorLines.length > 0)
      process.stdout.write(`[${r.persistence}] server error lines: ${r.serverErrorLines.length}\n`);
  }
  process.stdout.write(`\n${byTeam(reports)}\n\n${table(reports)}\n`);
  if (topology === 'cluster') process.stdout.write(`\n${CLUSTER_NOTES.join('\n')}\n`);
  if (timelineFile)
    writeFileSync(
      timelineFile,
      JSON.stringify(reports.map((r) => ({ persistence: r.persistence, ...r.timeline }))),
    );
  if (out) {
    const figures = reports.map(({ timeline: _timeline, ...rest }) => rest);
    writeFileSync(
      out,
      `${JSON.stringify({ date: new Date().toISOString(), reports: figures }, null, 2)}\n`,
    );
  }
  const ok = reports.every((r) => r.pass);
  return ok;
}

runScript('chaos', main);
