import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeadLetterCounts } from './dead-letters';
import type { Readiness } from './health';

/** Every metric the node exports, registered on a registry of its own (no global default). */
export function createMetrics(
  registry: Registry = new Registry(),
  sources: {
    backlogLength?: () => Promise<number>;
    /** Dead letters held (cluster-wide on Redis). */
    deadLetters?: () => Promise<number>;
    /** Rows this node dead-lettered, and dead letters dropped past the cap, since start. */
    deadLetterCounts?: () => DeadLetterCounts;
    /** What /api/ready would answer now. */
    readiness?: () => Promise<Readiness>;
  } = {},
) {
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  const registers = [registry];
  // Counted where the archiver runs and read at scrape time, like the backlog.
  const deadLetterCounter = (
    name: string,
    help: string,
    count: (counts: DeadLetterCounts) => number,
  ) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        if (!sources.deadLetterCounts) return;
        this.reset();
        this.inc(count(sources.deadLetterCounts()));
      },
    });
  return {
    registry,
    connections: new Gauge({
      name: 'switchboard_connections',
      help: 'Open WebSocket connections on this node',
      registers,
    }),
    connectionsOpened: new Counter({
      name: 'switchboard_connections_opened_total',
      help: 'WebSocket connections accepted',
      registers,
    }),
    handshakesRejected: new Counter({
      name: 'switchboard_handshakes_rejected_total',
      help: 'Upgrade requests refused before the handshake, by HTTP status',
      labelNames: ['status'] as const,
      registers,
    }),
    connectionsClosed: new Counter({
      name: 'switchboard_connections_closed_total',
      help: 'WebSocket connections closed, by close code',
      labelNames: ['code'] as const,
      registers,
    }),
    bans: new Counter({
      name: 'switchboard_bans_total',
      help: 'Bans added through this node (POST /api/bans); their closes count under code 4003',
      registers,
    }),
    messagesPublished: new Counter({
      name: 'switchboard_messages_published_total',
      help: 'Messages accepted and stored, by source',
      labelNames: ['source'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'switchboard_deliveries_total',
      help: 'Message frames written to local sockets',
      registers,
    }),
    framesRejected: new Counter({
      name: 'switchboard_frames_rejected_total',
      help: 'Client frames answered with an error frame, by code',
      labelNames: ['code'] as const,
      registers,
    }),
    archiveBacklog: new Gauge({
      name: 'switchboard_archive_backlog',
      help: 'Accepted messages not yet written to the SQL Server archive (cluster-wide on Redis)',
      registers,
      async collect() {
        if (sources.backlogLength) this.set(await sources.backlogLength());
      },
    }),
    deadLettered: deadLetterCounter(
      'switchboard_archive_dead_lettered_total',
      'Messages SQL Server refused for their data, moved to dead letters by this node',
      (counts) => counts.added,
    ),
    deadLettersDropped: deadLetterCounter(
      'switchboard_archive_dead_letters_dropped_total',
      'Oldest dead letters dropped past DEAD_LETTERS_MAX by this node',
      (counts) => counts.dropped,
    ),
    deadLetters: new Gauge({
      name: 'switchboard_archive_dead_letters',
      help: 'Dead letters held for an admin (cluster-wide on Redis)',
      registers,
      async collect() {
        if (sources.deadLetters) this.set(await sources.deadLetters().catch(() => -1));
      },
    }),
    // For alerts (deploy/prometheus/alerts.yml): a node that serves but is not ready
    // is out of its load balancer, and which backend is down says why.
    ready: new Gauge({
      name: 'switchboard_ready',
      help: '1 when /api/ready answers 200, 0 when it answers 503 (backend down or draining)',
      registers,
      async collect() {
        if (sources.readiness) this.set((await sources.readiness()).ready ? 1 : 0);
      },
    }),
    backendUp: new Gauge({
      name: 'switchboard_backend_up',
      help: '1 when the backend answers its health check, 0 when it does not; absent when not configured',
      labelNames: ['backend'] as const,
      registers,
      async collect() {
        if (!sources.readiness) return;
        const { checks } = await sources.readiness();
        this.reset();
        for (const [backend, state] of Object.entries(checks))
          if (state !== 'disabled') this.set({ backend }, state === 'up' ? 1 : 0);
      },
    }),
    httpRequests: new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'Admin API request duration',
      labelNames: ['method', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** A counter's total over all its labels. */
export async function counterTotal(counter: Counter<string>): Promise<number> {
  const { values } = await counter.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}
