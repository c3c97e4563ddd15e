/**
 * One node's counters at one moment, as it reports them for the cluster view of
 * the admin page's live charts (GET /api/stats). Counters are totals since the
 * node started; rates come from differences between samples.
 */
export interface NodeSample {
  nodeId: string;
  /** ms since epoch, the node's clock. */
  at: number;
  connections: number;
  /** Teams with a connection on this node. */
  teams: number;
  /** Messages this node accepted. */
  messages: number;
  /** Message frames this node wrote to its sockets. */
  deliveries: number;
}

/** Where nodes leave their latest sample for each other. */
export interface NodeStats {
  report(sample: NodeSample): Promise<void>;
  /** The latest sample of every node that reported within `maxAgeMs` (this one included). */
  latest(maxAgeMs: number): Promise<NodeSample[]>;
}
