import { runChaos, FAULT_KINDS, type Persistence } from '../../scripts/lib/chaos-run';
import { killAll } from '../../support/managed';
import { buildServer } from '../../support/node-process';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * `npm run chaos`, short: the same run function with small parameters, once per
 * persistence mode, on real processes (three nodes, one redis-server). Lives
 * outside test/integration so only the memory project picks it up: it starts
 * its own Redis and must not run again under the redis project.
 */
describeWithRedis('chaos run, short', () => {
  beforeAll(() => buildServer(), 120_000);
  afterAll(() => killAll());

  test.each<Persistence>(['aof', 'none'])(
    'Redis %s: every fault injected; nothing lost, duplicated, reordered, skipped silently or falsely refused',
    async (persistence) => {
      const lines: string[] = [];
      const report = await runChaos({
        persistence,
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
    },
    100_000,
  );
});
