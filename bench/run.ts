import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { ARMS, REDIS_ARMS, type ArmId, type RunningArm } from './arms';
import type { LoadPlan, LoadResult } from './loadgen/contract';
import { canPin } from './managed-process';
import { parseOptions, USAGE, UsageError, type Options, type Scenario } from './options';
import { count, ms } from './report/format';
import { describeMachine, machineLine } from './report/machine';
import { scenarioNotes } from './report/notes';
import type { Report } from './report/report';
import { loopFigures, summarizeScenario, type RoundRecord } from './report/summarize';
import { terminalTable } from './report/terminal-table';
import { writeOutputs } from './report/write-outputs';
import { runLoadgen } from './run-loadgen';
import {
  HOLD_HEADER,
  holdRow,
  holdSummary,
  plainTable,
  STORM_HEADER,
  stormRow,
} from './report/storm-tables';
import { runHoldOnce, runStormOnce, stormArms, type HoldRecord, type StormRecord } from './storms';

/**
 * `npm run bench`: for each scenario, rounds of every arm in turn (the first arm
 * rotates each round), each run on fresh server processes with a fresh load
 * generator; then medians, ratios to raw ws, a table, results.json, README.md and
 * ratios.svg.
 */

const ROOT = resolve(__dirname, '..', '..');
const sleep = (t: number) => new Promise<void>((done) => setTimeout(done, t));

function clockTicksPerS(): number {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** Enough publishers to keep about `inFlight` deliveries in flight when saturating. */
function publishersPerTeam(s: Scenario, o: Options): number {
  const teams = Math.ceil(s.connections / s.teamSize) * (s.teamsPerConnection ?? 1);
  const wanted = Math.max(1, Math.floor(o.inFlight / (o.window * (s.teamSize - 1))));
  return Math.max(1, Math.min(s.teamSize - 1, Math.floor(wanted / teams)));
}

function estimateRunS(s: Scenario, o: Options): number {
  const phases = o.settleMs + o.warmupMs + o.latencyMs + o.saturationMs;
  // Each subscription costs about what a connection does (a presence join to its team).
  return 2 + (s.connections * (s.teamsPerConnection ?? 1)) / 2000 + phases / 1000;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * Extra node flags for the Node servers only (say `--perf-basic-prof`, to read a
 * server with `perf record`), from BENCH_SERVER_NODE_ARGS, space-separated. Not
 * NODE_OPTIONS: the servers do not get the caller's environment (arms.ts).
 */
function extraServerNodeArgs(): string[] {
  return (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

/** What the servers said last: it usually explains a failed or troubled run. */
function serverOutput(running: RunningArm): string {
  return running.processes
    .filter((p) => p.output() !== '')
    .map((p) => `--- ${p.name} (last lines) ---\n${p.output()}`)
    .join('\n');
}

async function runOnce(
  armId: ArmId,
  scenario: Scenario,
  round: number,
  o: Options,
  clockTicks: number,
): Promise<RoundRecord> {
  const arm = ARMS[armId];
  const started = Date.now();
  const nodeArgs = o.cpuProf
    ? [
        '--cpu-prof',
        '--cpu-prof-dir',
        join(ROOT, 'dist', 'bench-profiles', `${slug(scenario.name)}-${armId}-r${round}`),
      ]
    : [];
  let running: RunningArm | undefined;
  const loopStatsDir = mkdtempSync(join(tmpdir(), 'bench-loop-'));
  const probe = join(ROOT, 'dist', 'bench', 'servers', 'loop-probe.js');
  try {
    running = await arm.start({
      root: ROOT,
      serverCpus: o.serverCpus,
      nodeArgs: [...nodeArgs, ...extraServerNodeArgs(), '--require', probe],
      // An upper bound only: a node exits as soon as its profile is written, and a
      // two-node arm's profile of a whole run took longer than 10 s to write.
      stopGraceMs: o.cpuProf ? 60_000 : 0,
      env: { BENCH_LOOP_STATS_DIR: loopStatsDir },
    });
    // Startup garbage and JIT settle before the idle RSS is read.
    await sleep(300);
    const plan: LoadPlan = {
      arm: armId,
      protocol: arm.protocol,
      publisherPort: running.publisherPort,
      receiverPort: running.receiverPort,
      serverPids: running.processes.map((p) => p.pid),
      connections: scenario.connections,
      teamSize: scenario.teamSize,
      teamsPerConnection: scenario.teamsPerConnection,
      publishersPerTeam: publishersPerTeam(scenario, o),
      connectConcurrency: o.concurrency,
      connectWarmup: Math.min(o.connectWarmup, scenario.connections),
      settleMs: o.settleMs,
      warmupMs: o.warmupMs,
      latencyMs: o.latencyMs,
      saturationMs: o.saturationMs,
      drainTimeoutMs: o.drainTimeoutMs,
      offeredDeliveriesPerS: o.rate,
      window: o.window,
      inFlightDeliveries: o.inFlight,
      payloadBytes: o.payloadBytes,
      saturationSampleEvery: 64,
      decodeCheckEvery: 1024,
      useRef: o.useRef,
      clockTicksPerS: clockTicks,
      loopStatsDir,
      // Only Node servers carry the probe; SIGUSR2 would stop redis-server.
      probePids: running.processes
        .filter((p) => p.child.spawnargs.includes(probe))
        .map((p) => p.pid),
    };
    const timeoutMs =
      Math.max(180_000, scenario.connections * 50) +
      60_000 +
      o.settleMs +
      o.warmupMs +
      o.latencyMs * 3 +
      o.saturationMs +
      3 * o.drainTimeoutMs;
    const result = await runLoadgen(ROOT, plan, o.clientCpus, timeoutMs, nodeArgs);
    const record: RoundRecord = {
      scenario: scenario.name,
      round,
      arm: armId,
      wallMs: Date.now() - started,
      result,
      processes: running.processes.map((p) => p.name),
    };
    const troubled =
      !result.latency.drained ||
      !result.saturation.drained ||
      result.anomalies.closes > 0 ||
      result.anomalies.errorFrames > 0;
    if (troubled) record.serverOutput = serverOutput(running);
    return record;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const output = running ? serverOutput(running) : '';
    return {
      scenario: scenario.name,
      round,
      arm: armId,
      wallMs: Date.now() - started,
      error: output === '' ? message : `${message}\n${output}`,
    };
  } finally {
    await running?.stop();
    rmSync(loopStatsDir, { recursive: true, force: true });
  }
}

function progressLine(r: RoundRecord): string {
  const head = `  round ${r.round}  ${ARMS[r.arm].label.padEnd(20)}`;
  const indent = (text: string) =>
    text
      .split('\n')
      .slice(-12)
      .map((l) => `      ${l}`);
  if (!r.result) {
    const [first, ...rest] = (r.error ?? '').split('\n');
    return [`${head} FAILED: ${first}`, ...indent(rest.join('\n'))].join('\n');
  }
  const x = r.result;
  const lost = x.latency.lost + x.saturation.lost;
  const late = x.latency.drained && x.saturation.drained ? '' : '  NOT DRAINED';
  const line =
    `${head} ${count(x.connect.perS).padStart(6)} conn/s  ` +
    `p99 ${ms(x.latency.p99Ms).padStart(5)} ms${loopMax(x)}  ` +
    `${count(x.saturation.deliveriesPerS).padStart(9)} deliv/s  ` +
    `${count(x.saturation.deliveriesPerCpuS).padStart(9)} deliv/CPU-s  ` +
    `gen CPU ${Math.round(x.saturation.loadgenCpuPct)}%  lost ${lost}${late}  (${(r.wallMs / 1000).toFixed(1)} s)` +
    cpuSplit(r);
  return r.serverOutput ? [line, ...indent(r.serverOutput)].join('\n') : line;
}

/**
 * The longest event-loop delay of the servers and of the load generator over the
 * fixed-load phase, e.g. " (loop max srv 7.2, gen 18.1)": which side a p99 spike waited on.
 */
function loopMax(x: LoadResult): string {
  const { loopDelayMaxMs: srv, loadgenLoopDelayMaxMs: gen } = loopFigures(x);
  if (Number.isNaN(srv) && Number.isNaN(gen)) return '';
  const shown = (v: number) => (Number.isNaN(v) ? '-' : ms(v));
  return ` (loop max srv ${shown(srv)}, gen ${shown(gen)})`;
}

/** Where a multi-process arm's saturated CPU went, e.g. "  [switchboard-a 40%, ...]". */
function cpuSplit(r: RoundRecord): string {
  const perProcess = r.result?.saturation.perProcessCpuS ?? [];
  const total = perProcess.reduce((a, b) => a + b, 0);
  if (perProcess.length < 2 || !r.processes || total <= 0) return '';
  const shares = perProcess.map(
    (s, i) => `${r.processes?.[i] ?? '?'} ${Math.round((s / total) * 100)}%`,
  );
  return `  [${shares.join(', ')}]`;
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const o = options;
  if (!existsSync(join(ROOT, 'dist', 'app', 'main.js'))) {
    process.stderr.write('bench: dist/app/main.js is missing; run `npm run build` first\n');
    return 2;
  }
  if (o.arms.some((a) => REDIS_ARMS.includes(a))) {
    const redis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
    if (redis.status !== 0) {
      process.stderr.write('bench: redis-server is not installed; skipping the Redis arms\n');
      o.arms = o.arms.filter((a) => !REDIS_ARMS.includes(a));
    }
  }
  if (!canPin() && o.serverCpus !== undefined) {
    process.stderr.write('bench: taskset not found; processes are not pinned\n');
    o.serverCpus = undefined;
    o.clientCpus = undefined;
  }

  const started = Date.now();
  const machine = describeMachine(ROOT, o.serverCpus, o.clientCpus);
  const clockTicks = clockTicksPerS();
  const estimate =
    o.scenarios.reduce((sum, s) => sum + estimateRunS(s, o), 0) * o.rounds * o.arms.length;
  process.stdout.write(
    `Switchboard bench${o.quick ? ' (quick)' : ''}\n${machineLine(machine)}\n` +
      `load average ${machine.loadAverageAtStart.join(' / ')}; ` +
      `${o.scenarios.length} scenario(s) x ${o.rounds} rounds x ${o.arms.length} arms, about ${Math.ceil(estimate / 60)} min\n`,
  );

  const records: RoundRecord[] = [];
  for (const scenario of o.scenarios) {
    process.stdout.write(
      `\n${scenario.name}: ${publishersPerTeam(scenario, o)} publisher(s) per team\n`,
    );
    for (let round = 1; round <= o.rounds; round++) {
      // Rotate the order so no arm always runs first (cold machine) or last.
      const order = o.arms.map((_, i) => o.arms[(i + round - 1) % o.arms.length]);
      for (const arm of order) {
        const record = await runOnce(arm, scenario, round, o, clockTicks);
        records.push(record);
        process.stdout.write(`${progressLine(record)}\n`);
        await sleep(200);
      }
    }
  }

  const storms: StormRecord[] = [];
  if (o.stormConnections > 0) {
    process.stdout.write(
      `\nreconnect storm: ${o.stormConnections.toLocaleString('en-US')} clients in teams of 100\n`,
    );
    for (const arm of stormArms(o.arms)) {
      const record = await runStormOnce(ROOT, arm, o);
      storms.push(record);
      process.stdout.write(`  ${stormRow(record).join('  ')}\n`);
      await sleep(1000);
    }
  }
  const holds: HoldRecord[] = [];
  if (o.holdConnections > 0) {
    process.stdout.write(
      `\nheld connections: ${o.holdConnections.toLocaleString('en-US')} on one process\n`,
    );
    const record = await runHoldOnce(ROOT, o);
    holds.push(record);
    process.stdout.write(`  ${holdRow(record).join('  ')}\n`);
    for (const line of holdSummary(record)) process.stdout.write(`  ${line}\n`);
  }

  machine.loadAverageAtEnd = loadavg().map((n) => Math.round(n * 100) / 100);
  const summaries = o.scenarios.map((s) =>
    summarizeScenario(s, publishersPerTeam(s, o), o.arms, records),
  );
  const report: Report = {
    generatedAt: new Date().toISOString(),
    command: process.argv.slice(2).join(' '),
    durationS: (Date.now() - started) / 1000,
    machine,
    options: o,
    scenarios: summaries,
    rounds: records,
    storms,
    holds,
  };

  process.stdout.write('\n');
  for (const s of summaries) {
    process.stdout.write(
      `${s.scenario.name} (medians of ${o.rounds} rounds)\n${terminalTable(s)}\n`,
    );
    for (const note of scenarioNotes(s, o.rate)) process.stdout.write(`  ! ${note}\n`);
    process.stdout.write('\n');
  }
  if (storms.length > 0) {
    process.stdout.write(`Reconnect storm\n${plainTable(STORM_HEADER, storms.map(stormRow))}\n\n`);
  }
  if (holds.length > 0) {
    process.stdout.write(`Held connections\n${plainTable(HOLD_HEADER, holds.map(holdRow))}\n`);
    for (const line of holds.flatMap(holdSummary)) process.stdout.write(`  ${line}\n`);
    process.stdout.write('\n');
  }
  const files = await writeOutputs(report, resolve(ROOT, o.outDir));
  process.stdout.write(
    `wrote ${files.map((f) => relative(ROOT, f)).join(', ')} in ${Math.round(report.durationS)} s\n`,
  );
  const failed =
    records.filter((r) => r.error !== undefined).length +
    storms.filter((r) => r.error !== undefined).length +
    holds.filter((r) => r.error !== undefined).length;
  const lost = summaries.reduce((sum, s) => sum + s.arms.reduce((a, arm) => a + arm.lost, 0), 0);
  if (failed > 0 || lost > 0) {
    process.stderr.write(`bench: ${failed} failed run(s), ${lost} lost deliveries\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
