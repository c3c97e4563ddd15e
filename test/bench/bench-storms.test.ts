import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOnce } from '../helpers/build-once';
import { buildServerOnce } from '../helpers/build-server-once';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * Smoke test of the reconnect-storm, held-connections and multi-team scenarios of `npm run bench`,
 * and of its Redis Cluster arm:
 * with a few dozen clients they run end to end and account for everyone. It checks
 * counts only; the bench's timings are not a test's business.
 */

const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let out: string;

beforeAll(() => {
  buildServerOnce();
  buildOnce({
    stamp: join('dist', '.test-bench-build-stamp'),
    inputs: ['bench', 'support'],
    output: join('dist', 'bench', 'run.js'),
    build: () => execFileSync(process.execPath, [tsc, '-p', 'bench/tsconfig.json'], { cwd: root }),
  });
  out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Smoke {
  storms: { arm: string; result?: { disconnected: number; back: number; lost: number } }[];
  holds: {
    loopbackReferenceUs?: number;
    result?: {
      requested: number;
      held: number;
      broadcastReached: number;
      dropped: number;
      emptyCpuSPerMin?: number;
    };
  }[];
}

/** Runs the built bench with `args`; fails with its output unless it exits 0. */
async function runBench(args: string[]): Promise<void> {
  const bench = spawn(process.execPath, [join(root, 'dist', 'bench', 'run.js'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  bench.stdout.on('data', (d: Buffer) => (output += d.toString()));
  bench.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => bench.on('exit', resolve));
  expect({ code, output }).toMatchObject({ code: 0 });
}

test('a tiny reconnect storm and hold run end to end', async () => {
  await runBench([
    '--scenarios',
    'none',
    '--arms',
    'switchboard-memory,raw-ws',
    '--storm-connections',
    '40',
    '--c100k-connections',
    '60',
    '--c100k-idle-s',
    '0.2',
    '--c100k-latency-s',
    '0.5',
    '--no-pin',
    '--out',
    out,
  ]);

  const report = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Smoke;
  expect(report.storms.map((s) => s.arm)).toEqual(['switchboard-memory', 'raw-ws']);
  for (const storm of report.storms) {
    expect(storm.result?.disconnected).toBe(40);
    expect(storm.result?.back).toBe(40);
    expect(storm.result?.lost).toBe(0);
  }
  const hold = report.holds[0]?.result;
  expect(hold).toMatchObject({ requested: 60, held: 60, broadcastReached: 60, dropped: 0 });
  // The heartbeat figure takes off what the process used before any connection.
  expect(hold?.emptyCpuSPerMin).toBeGreaterThanOrEqual(0);
  // And the machine's speed at the time, so runs hours apart can be compared.
  expect(report.holds[0]?.loopbackReferenceUs).toBeGreaterThan(0);
}, 60_000);

interface MultiTeamSmoke {
  options: { arms: string[] };
  rounds: {
    arm: string;
    error?: string;
    result?: {
      saturation: {
        sent: number;
        expected: number;
        received: number;
        lost: number;
        duplicated: number;
        deliveriesPerCpuS: number;
      };
      anomalies: { errorFrames: number; closes: number };
    };
  }[];
}

test('a tiny multi-team run delivers each team message to its other members', async () => {
  const dir = join(out, 'multi-team');
  await runBench([
    '--multi-team-connections',
    '30',
    '--multi-team-size',
    '10',
    '--multi-team-teams',
    '3',
    '--rounds',
    '1',
    '--latency-s',
    '0.3',
    // A loaded machine can take 0.3 s for the first acks of three engines' arms:
    // a phase that short may end before anything is sent, and prove nothing.
    '--saturation-s',
    '1',
    '--warmup-s',
    '0.1',
    '--settle-s',
    '0.1',
    '--no-pin',
    '--out',
    dir,
  ]);

  const report = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as MultiTeamSmoke;
  // Only the Switchboard arms speak subscriptions; with redis-server missing, memory alone.
  expect(report.options.arms).toContain('switchboard-memory');
  expect(report.options.arms.every((a) => a.startsWith('switchboard-'))).toBe(true);
  for (const round of report.rounds) {
    expect(round.error).toBeUndefined();
    const sat = round.result?.saturation;
    // Teams of 10: each message is due to the 9 other members of the team it names.
    expect(sat?.expected).toBe((sat?.sent ?? -1) * 9);
    expect(sat).toMatchObject({ lost: 0, duplicated: 0 });
    expect(sat?.received).toBe(sat?.expected);
    expect(sat?.deliveriesPerCpuS).toBeGreaterThan(0);
    expect(round.result?.anomalies).toMatchObject({ errorFrames: 0, closes: 0 });
  }
}, 60_000);

interface ClusterSmoke {
  options: { arms: string[] };
  rounds: MultiTeamSmoke['rounds'];
  scenarios: { arms: { arm: string; median?: { deliveriesPerCpuS: number } }[] }[];
}

// Without redis-server the bench drops the Redis arms with a note; CI must not pass that way.
describeWithRedis('bench Cluster arm', () => {
  test('a tiny run of the Cluster arm delivers everything across two nodes', async () => {
    const dir = join(out, 'cluster');
    await runBench([
      '--scenarios',
      '40x10',
      '--arms',
      'switchboard-redis,switchboard-cluster',
      '--rounds',
      '1',
      '--latency-s',
      '0.3',
      '--saturation-s',
      '0.3',
      '--warmup-s',
      '0.1',
      '--settle-s',
      '0.1',
      '--no-pin',
      '--out',
      dir,
    ]);

    const report = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ClusterSmoke;
    expect(report.options.arms).toEqual(['switchboard-redis', 'switchboard-cluster']);
    expect(report.rounds.map((r) => r.arm).sort()).toEqual([
      'switchboard-cluster',
      'switchboard-redis',
    ]);
    for (const round of report.rounds) {
      expect(round.error).toBeUndefined();
      const sat = round.result?.saturation;
      expect(sat?.expected).toBe((sat?.sent ?? -1) * 9);
      expect(sat).toMatchObject({ lost: 0, duplicated: 0 });
      expect(sat?.received).toBe(sat?.expected);
      expect(round.result?.anomalies).toMatchObject({ errorFrames: 0, closes: 0 });
    }
    // The notes compare the two arms, so the 0.8x goal of issue 13 shows in every report.
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(
      /Switchboard Cluster x2: [\d.]+x the Redis arm's deliveries per server CPU-second/,
    );
  }, 60_000);
});
