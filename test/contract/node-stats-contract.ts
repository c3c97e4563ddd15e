import { randomUUID } from 'node:crypto';
import type { NodeSample, NodeStats } from '../../services/node-stats';

export type NodeStatsFactory = (now: () => number) => Promise<NodeStats>;

/** What every NodeStats shares: the latest sample per node, aged out by the reader's clock. */
export function nodeStatsContract(name: string, make: NodeStatsFactory): void {
  describe(`node stats contract: ${name}`, () => {
    let clock = 1_000_000;
    const now = () => clock;
    let prefix: string;

    beforeEach(() => {
      prefix = randomUUID().slice(0, 8);
      clock += 1_000_000;
    });

    const sample = (node: string, at: number, messages = 1): NodeSample => ({
      nodeId: `${prefix}-${node}`,
      at,
      connections: 2,
      teams: 1,
      messages,
      deliveries: messages * 3,
    });
    const mine = (all: NodeSample[]) =>
      all.filter((s) => s.nodeId.startsWith(prefix)).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));

    test('latest holds the last sample of each node', async () => {
      const stats = await make(now);
      await stats.report(sample('a', clock - 100, 1));
      await stats.report(sample('a', clock, 5));
      await stats.report(sample('b', clock, 7));
      expect(mine(await stats.latest(1000))).toEqual([
        sample('a', clock, 5),
        sample('b', clock, 7),
      ]);
    });

    test('a node that stopped reporting ages out', async () => {
      const stats = await make(now);
      await stats.report(sample('gone', clock - 5000));
      await stats.report(sample('here', clock - 500));
      expect(mine(await stats.latest(1000)).map((s) => s.nodeId)).toEqual([`${prefix}-here`]);
      clock += 600;
      expect(mine(await stats.latest(1000))).toEqual([]);
    });
  });
}
