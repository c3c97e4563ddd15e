import type { Logger } from 'pino';
import type { NodeSample, NodeStats } from './node-stats';

/** One point of a live chart: levels, and rates over the interval before `at`. */
export interface LiveSample {
  at: number;
  connections: number;
  teams: number;
  messagesPerS: number;
  deliveriesPerS: number;
}

/** What GET /api/stats answers: the last minutes, for this node and for the cluster. */
export interface LiveStats {
  intervalMs: number;
  /** How far back the samples reach. */
  windowMs: number;
  node: { id: string; samples: LiveSample[] };
  cluster: { nodes: number; samples: LiveSample[] };
}

export type LocalCounters = Omit<NodeSample, 'nodeId' | 'at'>;

export interface StatsSamplerOptions {
  nodeId: string;
  intervalMs: number;
  /** How far back the charts reach. */
  windowMs: number;
  /** This node's counters now. */
  local: () => Promise<LocalCounters>;
  stats: NodeStats;
  /** Teams with a connection anywhere in the cluster. */
  clusterTeams: () => Promise<number>;
  log: Logger;
  now?: () => number;
}

/**
 * Samples the node's counters every interval, shares them through NodeStats and
 * keeps the last minutes of points for the admin page's live charts. Kept on the
 * server, so a page opened now shows the minutes before it was opened.
 */
export class StatsSampler {
  private readonly node: LiveSample[] = [];
  private readonly cluster: LiveSample[] = [];
  private own: NodeSample | undefined;
  /** Each node's sample the last cluster rate was computed from, and that rate. */
  private readonly seen = new Map<string, { sample: NodeSample; rates: Rates }>();
  private nodes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: StatsSamplerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.sampling) return;
    this.sampling = this.sample().finally(() => (this.sampling = undefined));
    await this.sampling;
  }

  /** Takes one sample now; the timer calls it, tests may too. */
  async sample(): Promise<void> {
    const counters = await this.options.local();
    const own: NodeSample = { nodeId: this.options.nodeId, at: this.now(), ...counters };
    const rates = this.own ? ratesBetween(this.own, own) : ZERO;
    this.own = own;
    this.push(this.node, { at: own.at, connections: own.connections, teams: own.teams, ...rates });
    try {
      await this.options.stats.report(own);
      const [all, teams] = await Promise.all([
        this.options.stats.latest(3 * this.options.intervalMs),
        this.options.clusterTeams(),
      ]);
      this.push(this.cluster, this.combine(all, teams, own.at));
    } catch (err) {
      // Redis is down: the node's own chart goes on; the cluster's has a hole.
      this.options.log.debug({ err }, 'cluster stats not sampled');
    }
  }

  private combine(all: NodeSample[], teams: number, at: number): LiveSample {
    const total: LiveSample = { at, connections: 0, teams, messagesPerS: 0, deliveriesPerS: 0 };
    const present = new Set<string>();
    for (const sample of all) {
      present.add(sample.nodeId);
      const before = this.seen.get(sample.nodeId);
      // A node that has not reported since the last read keeps its last rate.
      const rates =
        before === undefined
          ? ZERO
          : sample.at > before.sample.at
            ? ratesBetween(before.sample, sample)
            : before.rates;
      this.seen.set(sample.nodeId, { sample, rates });
      total.connections += sample.connections;
      total.messagesPerS += rates.messagesPerS;
      total.deliveriesPerS += rates.deliveriesPerS;
    }
    for (const nodeId of this.seen.keys()) if (!present.has(nodeId)) this.seen.delete(nodeId);
    this.nodes = all.length;
    return total;
  }

  private push(series: LiveSample[], point: LiveSample): void {
    series.push(point);
    const oldest = point.at - this.options.windowMs;
    while (series.length > 0 && series[0]!.at < oldest) series.shift();
  }

  snapshot(): LiveStats {
    return {
      intervalMs: this.options.intervalMs,
      windowMs: this.options.windowMs,
      node: { id: this.options.nodeId, samples: [...this.node] },
      cluster: { nodes: this.nodes, samples: [...this.cluster] },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
  }
}

interface Rates {
  messagesPerS: number;
  deliveriesPerS: number;
}

const ZERO: Rates = { messagesPerS: 0, deliveriesPerS: 0 };

/** Per-second rates between two samples of one node; a restart (counters back to 0) counts from 0. */
function ratesBetween(before: NodeSample, after: NodeSample): Rates {
  const seconds = (after.at - before.at) / 1000;
  if (seconds <= 0) return ZERO;
  const delta = (a: number, b: number) => (b >= a ? b - a : b);
  return {
    messagesPerS: round(delta(before.messages, after.messages) / seconds),
    deliveriesPerS: round(delta(before.deliveries, after.deliveries) / seconds),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
