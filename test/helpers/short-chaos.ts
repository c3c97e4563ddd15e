import { runChaos, FAULT_KINDS, type Persistence } from '../../scripts/lib/chaos-run';
import type { Topology } from '../../scripts/lib/chaos-redis';

/**
 * `npm run chaos`, short: the run function with small parameters on real
 * processes, and the checks that make it pass: every fault injected; nothing
 * lost, duplicated, reordered, skipped silently or falsely refused.
 */
export async function expectShortChaosToPass(
  topology: Topology,
  persistence: Persistence,
): Promise<void> {
  const lines: string[] = [];
  const report = await runChaos({
    persistence,
    topology,
    seconds: 20,
    clients: 12,
    teams: 4,
    rate: 3,
    historyTtlSeconds: 8,
    presenceLeaseMs: 1500,
    log: (line) => lines.push(line),
  });
  expect(FAULT_KINDS.filter((kind) => report.faults[kind] === 0)).toEqual([]);
  const { result } = report;
  // One example of each kind that breaks the promise, so a failure says why.
  const kinds = [
    'lost',
    'lost-from-store',
    'duplicate',
    'reorder',
    'silent-gap',
    'silent-reset',
    'unannounced-epoch',
    'tail-gap',
    'unavailable-but-stored',
  ];
  const examples = kinds.flatMap((kind) => result.findings.find((f) => f.kind === kind) ?? []);
  expect({
    lost: result.lost + result.lostFromStore,
    duplicated: result.duplicated,
    reordered: result.reordered,
    silentGaps: result.silentGaps,
    unavailableButStored: result.unavailableButStored,
    examples,
  }).toEqual({
    lost: 0,
    duplicated: 0,
    reordered: 0,
    silentGaps: 0,
    unavailableButStored: 0,
    examples: [],
  });
  // Every send was answered in the end, so the figures above cover all of them.
  expect(result.unacked).toBe(0);
}
