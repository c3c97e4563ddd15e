import { cpus } from 'node:os';
import { ARM_IDS, type ArmId } from './arms';

/** Command-line flags of `npm run bench`, with the defaults of a full and a quick run. */

export interface Scenario {
  name: string;
  connections: number;
  teamSize: number;
  /** Teams each connection follows: its home team and subscriptions (absent: one). */
  teamsPerConnection?: number;
}

/** The arms that speak subscriptions (docs/PROTOCOL.md section 10). */
const MULTI_TEAM_ARMS: readonly ArmId[] = [
  'switchboard-memory',
  'switchboard-redis',
  'switchboard-cluster',
];

export interface Options {
  quick: boolean;
  scenarios: Scenario[];
  arms: ArmId[];
  rounds: number;
  rate: number;
  window: number;
  inFlight: number;
  latencyMs: number;
  saturationMs: number;
  warmupMs: number;
  settleMs: number;
  drainTimeoutMs: number;
  payloadBytes: number;
  concurrency: number;
  /** Throwaway connections per server process before each measured connect (bench/loadgen/connect-warmup.ts). */
  connectWarmup: number;
  serverCpus: string | undefined;
  clientCpus: string | undefined;
  useRef: boolean;
  outDir: string;
  cpuProf: boolean;
  /** Reconnect storm: clients, or 0 when not asked for. */
  stormConnections: number;
  /** C100k hold: connections, or 0 when not asked for; and its idle window. */
  holdConnections: number;
  holdIdleMs: number;
  holdLatencyMs: number;
}

export const USAGE = `usage: npm run bench -- [flags]

  --quick              development run: 500 connections in teams of 100, short phases (1-1.5 min)
  --scenarios LIST     comma-separated CONNECTIONSxTEAM_SIZE (default 5000x100,5000x10,2000x2000);
                       "none" runs only --storm / --c100k
  --arms LIST          comma-separated, from ${ARM_IDS.join(', ')} (default: all)
  --rounds N           rounds; arms alternate within each (default 3)
  --rate N             offered deliveries/s in the latency phase (default 20000)
  --window N           messages in flight per publisher when saturating (default 8)
  --in-flight N        cap on deliveries in flight when saturating; also sets publishers per
                       team (default 64000)
  --latency-s S        fixed-load phase length (default 4; quick 1)
  --saturation-s S     saturation phase length (default 4; quick 1)
  --warmup-s S         unmeasured fixed load before the latency phase (default 1; quick 0.3)
  --settle-s S         pause after connecting, before RSS is read (default 1; quick 0.3)
  --payload N          padding characters in each message (default 32)
  --concurrency N      handshakes in flight while connecting (default 100)
  --connect-warmup N   throwaway connections per server process opened and closed before each
                       measured connect, so it measures a warm server (default 1000; quick 100;
                       0 = none)
  --server-cpus LIST   taskset CPUs for server processes (default: the last core)
  --client-cpus LIST   taskset CPUs for the load generator (default: core 0)
  --no-pin             do not pin anything
  --ref                send Switchboard's idempotency ref with every message
  --out DIR            where the JSON, SVG and Markdown go (default docs/bench; quick: dist/bench-results)
  --cpu-prof           servers and load generator write .cpuprofile files to dist/bench-profiles/
                       (env BENCH_SERVER_NODE_ARGS: extra node flags for the servers alone,
                       e.g. "--perf-basic-prof" to read one with perf record -e cpu-clock)
  --storm              also a reconnect storm per arm: 10,000 clients in teams of 100, the node
                       crashes (memory, raw ws, Socket.IO: restarted; Redis: one of two nodes
                       killed) and every client reconnects at once (about 1 min per arm)
  --storm-connections N  clients in the storm (implies --storm)
  --c100k              also 100,000 connections held by one Switchboard process (memory engine):
                       RSS, idle heartbeat CPU, one admin broadcast, p99 (about 5 min)
  --c100k-connections N  connections held (implies --c100k); capped by the fd limit
  --c100k-idle-s S     idle hold for the heartbeat cost, rounded to whole ping cycles of two
                       beats, each measured on its own, the quietest reported (default 100: two
                       cycles at 25 s beats)
  --c100k-latency-s S  fixed team load while held, for p99 (default 5)
  --multi-team         instead of the scenarios: 5,000 connections each following 5 teams of 100
                       (home team + 4 subscriptions), Switchboard arms only; writes to
                       docs/bench/multi-team
  --multi-team-connections N  connections in it (implies --multi-team; default 5000)
  --multi-team-size N  members per team (implies --multi-team; default 100)
  --multi-team-teams N teams each connection follows (implies --multi-team; default 5)
  --help`;

export class UsageError extends Error {
  override name = 'UsageError';
}

function positive(flag: string, value: string, integer = true): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `${flag}: expected a positive ${integer ? 'whole ' : ''}number, got "${value}"`,
    );
  }
  return n;
}

function padding(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 60_000) {
    throw new UsageError(`--payload: expected 0-60000 characters, got "${value}"`);
  }
  return n;
}

function cpuList(flag: string, value: string): string {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) {
    throw new UsageError(`${flag}: expected a taskset CPU list like 1 or 0,2-3, got "${value}"`);
  }
  return value;
}

export function scenarioName(connections: number, teamSize: number): string {
  return teamSize >= connections
    ? `one team of ${connections.toLocaleString('en-US')}`
    : `${connections.toLocaleString('en-US')} in teams of ${teamSize}`;
}

function scenarios(value: string): Scenario[] {
  return value.split(',').map((spec) => {
    const match = /^(\d+)x(\d+)$/.exec(spec.trim());
    if (!match) throw new UsageError(`--scenarios: "${spec}" is not CONNECTIONSxTEAM_SIZE`);
    const connections = positive('--scenarios', match[1]);
    const teamSize = Math.min(positive('--scenarios', match[2]), connections);
    if (teamSize < 2) throw new UsageError(`--scenarios: "${spec}": teams need at least 2 members`);
    return { name: scenarioName(connections, teamSize), connections, teamSize };
  });
}

function multiTeamScenario(connections: number, teamSize: number, follows: number): Scenario {
  if (teamSize < 2 || teamSize > connections) {
    throw new UsageError(`--multi-team-size: expected 2-${connections} members, got ${teamSize}`);
  }
  return {
    name: `${connections.toLocaleString('en-US')} each in ${follows} teams of ${teamSize}`,
    connections,
    teamSize,
    teamsPerConnection: follows,
  };
}

function arms(value: string): ArmId[] {
  return value.split(',').map((name) => {
    const id = ARM_IDS.find((arm) => arm === name.trim());
    if (!id) throw new UsageError(`--arms: unknown arm "${name}"; known: ${ARM_IDS.join(', ')}`);
    return id;
  });
}

/** Throws UsageError on a bad flag; returns undefined for --help. */
export function parseOptions(argv: string[]): Options | undefined {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  const SWITCHES = new Set([
    '--quick',
    '--no-pin',
    '--ref',
    '--cpu-prof',
    '--storm',
    '--c100k',
    '--multi-team',
    '--help',
    '-h',
  ]);
  const VALUES = new Set([
    '--scenarios',
    '--arms',
    '--rounds',
    '--rate',
    '--window',
    '--in-flight',
    '--latency-s',
    '--saturation-s',
    '--warmup-s',
    '--settle-s',
    '--payload',
    '--concurrency',
    '--connect-warmup',
    '--server-cpus',
    '--client-cpus',
    '--out',
    '--storm-connections',
    '--c100k-connections',
    '--c100k-idle-s',
    '--c100k-latency-s',
    '--multi-team-connections',
    '--multi-team-size',
    '--multi-team-teams',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (SWITCHES.has(name)) {
      switches.add(name);
      continue;
    }
    if (!VALUES.has(name)) {
      throw new UsageError(`unknown flag "${arg}"`);
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    flags.set(name, value);
  }
  if (switches.has('--help') || switches.has('-h')) return undefined;

  const quick = switches.has('--quick');
  const seconds = (flag: string, full: number, fast: number) =>
    Math.round(
      (flags.has(flag) ? positive(flag, flags.get(flag)!, false) : quick ? fast : full) * 1000,
    );
  const number = (flag: string, fallback: number) =>
    flags.has(flag) ? positive(flag, flags.get(flag)!) : fallback;

  const cores = cpus().length;
  const pin = !switches.has('--no-pin') && cores >= 2;
  const rounds = number('--rounds', 3);
  const multiTeam =
    switches.has('--multi-team') ||
    ['--multi-team-connections', '--multi-team-size', '--multi-team-teams'].some((f) =>
      flags.has(f),
    );
  const chosenArms = flags.has('--arms') ? arms(flags.get('--arms')!) : [...ARM_IDS];
  if (multiTeam && !chosenArms.some((a) => MULTI_TEAM_ARMS.includes(a))) {
    throw new UsageError(`--multi-team: only ${MULTI_TEAM_ARMS.join(', ')} follow several teams`);
  }
  return {
    quick,
    scenarios: multiTeam
      ? [
          multiTeamScenario(
            number('--multi-team-connections', 5000),
            number('--multi-team-size', 100),
            number('--multi-team-teams', 5),
          ),
        ]
      : flags.get('--scenarios') === 'none'
        ? []
        : scenarios(flags.get('--scenarios') ?? (quick ? '500x100' : '5000x100,5000x10,2000x2000')),
    arms: multiTeam ? chosenArms.filter((a) => MULTI_TEAM_ARMS.includes(a)) : chosenArms,
    rounds,
    rate: number('--rate', 20_000),
    window: number('--window', 8),
    inFlight: number('--in-flight', 64_000),
    latencyMs: seconds('--latency-s', 4, 1),
    saturationMs: seconds('--saturation-s', 4, 1),
    warmupMs: seconds('--warmup-s', 1, 0.3),
    settleMs: seconds('--settle-s', 1, 0.3),
    drainTimeoutMs: 60_000,
    payloadBytes: flags.has('--payload') ? padding(flags.get('--payload')!) : 32,
    concurrency: number('--concurrency', 100),
    connectWarmup: number('--connect-warmup', quick ? 100 : 1000),
    serverCpus: pin
      ? cpuList('--server-cpus', flags.get('--server-cpus') ?? String(cores - 1))
      : undefined,
    clientCpus: pin ? cpuList('--client-cpus', flags.get('--client-cpus') ?? '0') : undefined,
    useRef: switches.has('--ref'),
    // A run of the storms alone must not overwrite the full report in docs/bench.
    outDir:
      flags.get('--out') ??
      (quick || (!multiTeam && flags.get('--scenarios') === 'none')
        ? 'dist/bench-results'
        : multiTeam
          ? 'docs/bench/multi-team'
          : 'docs/bench'),
    cpuProf: switches.has('--cpu-prof'),
    stormConnections: flags.has('--storm-connections')
      ? number('--storm-connections', 10_000)
      : switches.has('--storm')
        ? 10_000
        : 0,
    holdConnections: flags.has('--c100k-connections')
      ? number('--c100k-connections', 100_000)
      : switches.has('--c100k')
        ? 100_000
        : 0,
    holdIdleMs: seconds('--c100k-idle-s', 100, 60),
    holdLatencyMs: seconds('--c100k-latency-s', 5, 5),
  };
}
