import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every metric the node exports, registered on a registry of its own (no global default). */
export function createMetrics(
  registry: Registry = new Registry(),
  sources: { backlogLength?: () => Promise<number> } = {},
) {
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  const registers = [registry];
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
