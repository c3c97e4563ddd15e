import pino from 'pino';
import { MemoryNodeStats } from '../../services/memory/node-stats';
import { StatsSampler, type LocalCounters } from '../../services/stats-sampler';

/** The sampler's arithmetic, on a clock the test moves. */
let clock = 0;
const now = () => clock;

function sampler(
  nodeId: string,
  stats: MemoryNodeStats,
  counters: LocalCounters,
  teams = async () => 1,
): StatsSampler {
  return new StatsSampler({
    nodeId,
    intervalMs: 1000,
    windowMs: 5000,
    local: async () => ({ ...counters }),
    stats,
    clusterTeams: teams,
    log: pino({ level: 'silent' }),
    now,
  });
}

const counters = (messages: number, deliveries = messages * 2): LocalCounters => ({
  connections: 1,
  teams: 1,
  messages,
  deliveries,
});

beforeEach(() => {
  clock = 1_000_000;
});

test('rates are differences per second; the first sample has none', async () => {
  const stats = new MemoryNodeStats(now);
  const c = counters(0);
  const s = sampler('n1', stats, c);
  await s.sample();
  clock += 2000;
  Object.assign(c, counters(10));
  await s.sample();
  const points = s.snapshot().node.samples;
  expect(points.map((p) => p.messagesPerS)).toEqual([0, 5]);
  expect(points[1]).toMatchObject({ deliveriesPerS: 10, connections: 1, teams: 1 });
});

test('a node restarted (counters back near 0) counts from 0, never negative', async () => {
  const stats = new MemoryNodeStats(now);
  const c = counters(100);
  const s = sampler('n1', stats, c);
  await s.sample();
  clock += 1000;
  Object.assign(c, counters(3));
  await s.sample();
  expect(s.snapshot().node.samples.at(-1)?.messagesPerS).toBe(3);
});

test('the cluster sums every node; a node not reporting anew keeps its last rate', async () => {
  const stats = new MemoryNodeStats(now);
  const c1 = counters(0);
  const c2 = counters(0);
  const s1 = sampler('n1', stats, c1, async () => 7);
  const s2 = sampler('n2', stats, c2);
  await s2.sample();
  await s1.sample();
  clock += 1000;
  Object.assign(c1, counters(10));
  Object.assign(c2, counters(4));
  await s2.sample();
  await s1.sample();
  const cluster = s1.snapshot().cluster;
  expect(cluster.nodes).toBe(2);
  expect(cluster.samples.at(-1)).toMatchObject({ messagesPerS: 14, connections: 2, teams: 7 });
  // n2 has not sampled again: its 4/s still counts.
  clock += 1000;
  Object.assign(c1, counters(20));
  await s1.sample();
  expect(s1.snapshot().cluster.samples.at(-1)?.messagesPerS).toBe(14);
});

test('points older than the window are dropped', async () => {
  const stats = new MemoryNodeStats(now);
  const s = sampler('n1', stats, counters(0));
  for (let i = 0; i < 10; i++) {
    await s.sample();
    clock += 1000;
  }
  const times = s.snapshot().node.samples.map((p) => p.at);
  expect(times[times.length - 1]! - times[0]!).toBeLessThanOrEqual(5000);
  expect(times).toHaveLength(6);
});

test('when the shared stats fail the node chart goes on and the cluster has a hole', async () => {
  const stats = new MemoryNodeStats(now);
  const s = sampler('n1', stats, counters(0), async () => {
    throw new Error('redis down');
  });
  await s.sample();
  expect(s.snapshot().node.samples).toHaveLength(1);
  expect(s.snapshot().cluster.samples).toHaveLength(0);
});
