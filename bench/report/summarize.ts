import { ARMS, BASELINE_ARM, type ArmId } from '../arms';
import type { LoadResult } from '../loadgen/contract';
import type { Scenario } from '../options';

/** Per-round records, reduced to medians per arm and ratios to the raw ws arm. */

export interface RoundRecord {
  scenario: string;
  round: number;
  arm: ArmId;
  wallMs: number;
  result?: LoadResult;
  error?: string;
  /** The servers' last output lines, kept when a run lost or failed something. */
  serverOutput?: string;
  /** Names of the server processes, in the order of the result's per-process figures. */
  processes?: string[];
}

export interface Figures {
  connectPerS: number;
  /** Seconds the servers stayed busy after every connection was ready (and the settle pause). */
  busyAfterConnectS: number;
  /** The servers' write system calls while connecting, per connection (LoadResult.connect). */
  connectWritesPerConnection: number;
  rssPerConnectionKB: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Deliveries/s actually received at the fixed offered load. */
  fixedLoadPerS: number;
  saturatedPerS: number;
  deliveriesPerCpuS: number;
  /** Server CPU while saturated (100 = one core). */
  serverCpuPct: number;
  loadgenCpuPctLatency: number;
  loadgenCpuPctSaturated: number;
  /** Worst server process's event-loop delay p99 / max over the fixed-load phase. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Longest GC pause of any server process, and all their pauses summed, over that phase. */
  gcMaxMs: number;
  gcTotalMs: number;
  /** The load generator's own event-loop delay p99 / max and longest GC pause, same phase. */
  loadgenLoopDelayP99Ms: number;
  loadgenLoopDelayMaxMs: number;
  loadgenGcMaxMs: number;
}

export interface Metric {
  key: keyof Figures;
  label: string;
  better: 'higher' | 'lower';
}

/** The figures that get a ratio to the raw ws arm, in report order. */
export const RATIO_METRICS: Metric[] = [
  { key: 'deliveriesPerCpuS', label: 'deliveries per server CPU-second', better: 'higher' },
  { key: 'saturatedPerS', label: 'saturated deliveries/s', better: 'higher' },
  { key: 'connectPerS', label: 'connect rate', better: 'higher' },
  { key: 'p99Ms', label: 'p99 latency at fixed load', better: 'lower' },
  { key: 'rssPerConnectionKB', label: 'server RSS per connection', better: 'lower' },
];

export interface ArmSummary {
  arm: ArmId;
  label: string;
  rounds: number;
  failedRounds: number;
  /** Medians over the rounds that completed; undefined when none did. */
  median: Figures | undefined;
  ratioToRawWs: Partial<Record<keyof Figures, number>>;
  lost: number;
  duplicated: number;
  errorFrames: number;
  closes: number;
  decodeFailures: number;
  /** Phases after which some deliveries had still not arrived when the drain gave up. */
  undrainedPhases: number;
  notes: string[];
}

export interface ScenarioSummary {
  scenario: Scenario;
  publishersPerTeam: number;
  arms: ArmSummary[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The worst server process's loop and GC figures, and the load generator's, over the fixed-load phase. */
export function loopFigures(
  r: LoadResult,
): Pick<
  Figures,
  | 'loopDelayP99Ms'
  | 'loopDelayMaxMs'
  | 'gcMaxMs'
  | 'gcTotalMs'
  | 'loadgenLoopDelayP99Ms'
  | 'loadgenLoopDelayMaxMs'
  | 'loadgenGcMaxMs'
> {
  const loop = r.latency.loop ?? [];
  const own = r.latency.loadgenLoop;
  const worst = (pick: (s: (typeof loop)[number]) => number) =>
    loop.length === 0 ? NaN : Math.max(...loop.map(pick));
  return {
    loopDelayP99Ms: worst((s) => s.delayP99Ms),
    loopDelayMaxMs: worst((s) => s.delayMaxMs),
    gcMaxMs: worst((s) => s.gcMaxMs),
    gcTotalMs: loop.length === 0 ? NaN : loop.reduce((a, s) => a + s.gcTotalMs, 0),
    loadgenLoopDelayP99Ms: own?.delayP99Ms ?? NaN,
    loadgenLoopDelayMaxMs: own?.delayMaxMs ?? NaN,
    loadgenGcMaxMs: own?.gcMaxMs ?? NaN,
  };
}

function figures(r: LoadResult): Figures {
  return {
    connectPerS: r.connect.perS,
    busyAfterConnectS: r.connect.busyAfterMs / 1000,
    connectWritesPerConnection: r.connect.serverWriteCalls / r.connect.connections,
    rssPerConnectionKB: r.rss.perConnectionBytes / 1024,
    p50Ms: r.latency.p50Ms,
    p99Ms: r.latency.p99Ms,
    maxMs: r.latency.maxMs,
    fixedLoadPerS: r.latency.achievedPerS,
    saturatedPerS: r.saturation.deliveriesPerS,
    deliveriesPerCpuS: r.saturation.deliveriesPerCpuS,
    serverCpuPct: r.saturation.serverCpuPct,
    loadgenCpuPctLatency: r.latency.loadgenCpuPct,
    loadgenCpuPctSaturated: r.saturation.loadgenCpuPct,
    ...loopFigures(r),
  };
}

function medianFigures(all: Figures[]): Figures | undefined {
  if (all.length === 0) return undefined;
  const first = all[0];
  const out = { ...first };
  for (const key of Object.keys(first) as (keyof Figures)[]) {
    out[key] = median(all.map((f) => f[key]));
  }
  return out;
}

function summarizeArm(arm: ArmId, records: RoundRecord[]): ArmSummary {
  const done = records.filter((r) => r.result !== undefined);
  const results = done.map((r) => r.result!);
  const sum = (pick: (r: LoadResult) => number) => results.reduce((a, r) => a + pick(r), 0);
  const notes = [
    // First line only: the servers' last output stays in results.json.
    ...records
      .filter((r) => r.error !== undefined)
      .map((r) => `round ${r.round}: ${(r.error ?? '').split('\n')[0]}`),
    ...results.flatMap((r) => r.anomalies.examples),
  ];
  return {
    arm,
    label: ARMS[arm].label,
    rounds: records.length,
    failedRounds: records.length - done.length,
    median: medianFigures(results.map(figures)),
    ratioToRawWs: {},
    lost: sum((r) => r.latency.lost + r.saturation.lost),
    duplicated: sum((r) => r.latency.duplicated + r.saturation.duplicated),
    errorFrames: sum((r) => r.anomalies.errorFrames),
    closes: sum((r) => r.anomalies.closes),
    decodeFailures: sum((r) => r.anomalies.decodeFailures),
    undrainedPhases: sum((r) => (r.latency.drained ? 0 : 1) + (r.saturation.drained ? 0 : 1)),
    notes: [...new Set(notes)].slice(0, 10),
  };
}

export function summarizeScenario(
  scenario: Scenario,
  publishersPerTeam: number,
  arms: ArmId[],
  records: RoundRecord[],
): ScenarioSummary {
  const summaries = arms.map((arm) =>
    summarizeArm(
      arm,
      records.filter((r) => r.scenario === scenario.name && r.arm === arm),
    ),
  );
  const baseline = summaries.find((s) => s.arm === BASELINE_ARM)?.median;
  if (baseline) {
    for (const s of summaries) {
      if (!s.median) continue;
      for (const key of Object.keys(baseline) as (keyof Figures)[]) {
        if (baseline[key] > 0) s.ratioToRawWs[key] = s.median[key] / baseline[key];
      }
    }
  }
  return { scenario, publishersPerTeam, arms: summaries };
}
