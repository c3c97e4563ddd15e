import { count } from './format';
import type { ScenarioSummary } from './summarize';

/** Warnings a reader must see next to a scenario's table. */
export function scenarioNotes(s: ScenarioSummary, offeredPerS: number): string[] {
  const notes: string[] = [];
  for (const a of s.arms) {
    const m = a.median;
    const what: string[] = [];
    if (a.lost > 0) what.push(`${a.lost} deliveries lost`);
    if (a.duplicated > 0) what.push(`${a.duplicated} duplicated`);
    if (a.errorFrames > 0) what.push(`${a.errorFrames} error frames`);
    if (a.closes > 0) what.push(`${a.closes} connections closed under load`);
    if (a.decodeFailures > 0) what.push(`${a.decodeFailures} deliveries failed the decode check`);
    if (a.undrainedPhases > 0) {
      what.push(`${a.undrainedPhases} phase(s) still missing deliveries when the drain gave up`);
    }
    if (a.failedRounds > 0) what.push(`${a.failedRounds} round(s) failed`);
    if (m && m.fixedLoadPerS < 0.95 * offeredPerS) {
      what.push(
        `kept up with only ${count(m.fixedLoadPerS)} of the ${count(offeredPerS)} deliveries/s offered, so its latency is queueing`,
      );
    }
    if (m && m.busyAfterConnectS >= 2) {
      what.push(
        `servers stayed busy for ${m.busyAfterConnectS.toFixed(1)} s after the last connection was ready (median); measuring started after that`,
      );
    }
    if (m && m.loadgenCpuPctSaturated >= 90) {
      what.push(
        `load generator at ${Math.round(m.loadgenCpuPctSaturated)} % CPU while saturating: the saturated rate is a lower bound`,
      );
    }
    if (what.length > 0) notes.push(`${a.label}: ${what.join('; ')}.`);
    for (const note of a.notes.slice(0, 3)) notes.push(`${a.label}: ${note}`);
  }
  const cluster = clusterNote(s);
  if (cluster) notes.push(cluster);
  return notes;
}

/**
 * The Cluster arm against the single-Redis arm, both two nodes with the same
 * split: issue 13 asks for at least 0.8x the deliveries per server CPU-second.
 */
function clusterNote(s: ScenarioSummary): string | undefined {
  const redis = s.arms.find((a) => a.arm === 'switchboard-redis')?.median;
  const cluster = s.arms.find((a) => a.arm === 'switchboard-cluster');
  if (!redis || !cluster?.median || redis.deliveriesPerCpuS <= 0) return undefined;
  const cpu = cluster.median.deliveriesPerCpuS / redis.deliveriesPerCpuS;
  const rate = redis.saturatedPerS > 0 ? cluster.median.saturatedPerS / redis.saturatedPerS : NaN;
  return (
    `${cluster.label}: ${cpu.toFixed(2)}x the Redis arm's deliveries per server CPU-second ` +
    `(goal: at least 0.8x), ${rate.toFixed(2)}x its saturated deliveries/s.`
  );
}
