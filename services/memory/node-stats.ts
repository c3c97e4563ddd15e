import type { NodeSample, NodeStats } from '../node-stats';

/** The embedded engine is one node: the cluster is this node. */
export class MemoryNodeStats implements NodeStats {
  private readonly samples = new Map<string, NodeSample>();

  constructor(private readonly now: () => number = Date.now) {}

  async report(sample: NodeSample): Promise<void> {
    this.samples.set(sample.nodeId, sample);
  }

  async latest(maxAgeMs: number): Promise<NodeSample[]> {
    const oldest = this.now() - maxAgeMs;
    return [...this.samples.values()].filter((s) => s.at >= oldest);
  }
}
