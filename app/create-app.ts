import type { IncomingMessage } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import websockify from 'koa-websocket';
import type { Logger } from 'pino';
import type { ServerOptions } from 'ws';
import { adminAuth } from '../middleware/admin-auth';
import type { AppState } from '../middleware/app-state';
import { errorMapper } from '../middleware/error-mapper';
import { JSON_TYPES, requireJsonBody } from '../middleware/json-body';
import { createVerifyClient, type Handshake } from '../middleware/handshake';
import { requestContext } from '../middleware/request-context';
import { socketGuard } from '../middleware/socket-guard';
import type { ApiDeps } from '../routes/api-deps';
import { banRoutes } from '../routes/bans';
import { connectionRoutes } from '../routes/connections';
import { deadLetterRoutes } from '../routes/dead-letters';
import { healthRoutes } from '../routes/health';
import { messageRoutes } from '../routes/messages';
import { metricsRoutes } from '../routes/metrics';
import { statsRoutes } from '../routes/stats';
import { openApiRoutes } from '../routes/openapi';
import { socketRoute } from '../routes/socket';
import { STATIC_PATHS, staticRoutes } from '../routes/static';
import { teamRoutes } from '../routes/teams';
import { Hub } from '../services/socket/hub';
import { Messaging } from '../services/messaging';
import { readiness } from '../services/health';
import { counterTotal, createMetrics, type Metrics } from '../services/metrics';
import { StatsSampler } from '../services/stats-sampler';
import type { Config } from './config';
import type { Engine } from './engine';
import { composeSocketChainOnce } from './socket-chain';

export interface AppDeps {
  config: Config;
  engine: Engine;
  logger: Logger;
  /** A registry of its own per app, so several apps can live in one test process. */
  metrics?: Metrics;
}

export interface SwitchboardApp {
  koa: websockify.App<AppState>;
  /** The WebSocket server options; startServer attaches them to its HTTP server. */
  wsOptions: ServerOptions;
  hub: Hub;
  /** The HTTP routes, for the test that holds the OpenAPI document to them. */
  router: Router<AppState>;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** The live charts' samples (GET /api/stats); startServer starts it. */
  stats: StatsSampler;
  /** Flips /api/ready and new handshakes to 503. */
  startDraining(): void;
  /** Closes the engine's services, in the order their dependencies allow. */
  closeServices(): Promise<void>;
}

/**
 * Everything but the probes needs the admin token. Listing what is open rather
 * than what is protected means a path spelled another way (`/API/teams`,
 * `/metrics/`) can never slip past the check.
 */
const OPEN_PATHS = new Set(['/api/health', '/api/ready', '/socket', ...STATIC_PATHS]);
const isProtected = (path: string) => !OPEN_PATHS.has(path);

/** How far back the admin page's live charts reach. */
const STATS_WINDOW_MS = 10 * 60 * 1000;

/** Builds the whole app; it never listens (see startServer). */
export function createApp(deps: AppDeps): SwitchboardApp {
  const { config, engine, logger } = deps;
  let draining = false;
  const isDraining = () => draining;
  const metrics =
    deps.metrics ??
    createMetrics(undefined, {
      backlogLength: () => engine.backlogLength(),
      deadLetters: () => engine.deadLetters.count(),
      deadLetterCounts: () => engine.deadLetterCounts(),
      readiness: () => readiness(engine.health, draining),
    });
  const hub = new Hub({
    maxBufferedBytes: config.socket.maxBufferedBytes,
    heartbeatMs: config.socket.heartbeatMs,
    presenceWindowMs: config.socket.presenceWindowMs,
    isBanned: (userId, teamId) => engine.bans.isBanned(userId, teamId),
    metrics,
    log: logger,
  });
  engine.bus.listen(hub);
  const messaging = new Messaging(engine.bus, metrics);
  const handshakes = new WeakMap<IncomingMessage, Handshake>();

  const wsOptions: ServerOptions = {
    path: '/socket',
    maxPayload: config.socket.maxMessageBytes,
    perMessageDeflate: false,
    // The hub tracks sockets; a second Set in ws would only cost memory.
    clientTracking: false,
    verifyClient: createVerifyClient(
      {
        authSecret: config.auth.authSecret,
        allowedOrigins: config.auth.allowedOrigins,
        trustProxy: config.http.trustProxy,
        maxConnections: config.socket.maxConnections,
        maxConnectionsPerIp: config.socket.maxConnectionsPerIp,
        isDraining,
        isBanned: (userId, teamId) => engine.bans.isBanned(userId, teamId),
        hub,
        metrics,
        log: logger,
      },
      handshakes,
    ),
  };
  const koa = websockify(new Koa<AppState>(), wsOptions);
  koa.proxy = config.http.trustProxy;
  // Every error is answered by errorMapper; Koa's own stderr printing would duplicate it.
  koa.silent = true;

  const stats = new StatsSampler({
    nodeId: config.node.id,
    intervalMs: config.node.statsIntervalMs,
    windowMs: STATS_WINDOW_MS,
    local: async () => ({
      connections: hub.size,
      teams: hub.teamCount,
      messages: await counterTotal(metrics.messagesPublished),
      deliveries: await counterTotal(metrics.deliveries),
    }),
    stats: engine.nodeStats,
    clusterTeams: () => engine.presence.teamCount(),
    log: logger,
  });

  const apiDeps: ApiDeps = { ...engine, hub, messaging, metrics, isDraining, stats };
  // Exact matching: one spelling per route.
  const router = new Router<AppState>({ sensitive: true, strict: true });
  healthRoutes(router, apiDeps);
  metricsRoutes(router, apiDeps);
  teamRoutes(router, apiDeps);
  connectionRoutes(router, apiDeps);
  messageRoutes(router, apiDeps);
  deadLetterRoutes(router, apiDeps);
  statsRoutes(router, apiDeps);
  banRoutes(router, apiDeps);
  openApiRoutes(router);
  staticRoutes(router);

  // The same request-context and error middleware run on both chains.
  const shared = [requestContext(logger, metrics), errorMapper()];
  for (const mw of shared) koa.use(mw);
  koa.use(adminAuth(config.auth.adminToken, isProtected));
  koa.use(requireJsonBody());
  koa.use(
    bodyParser({
      enableTypes: ['json'],
      extendTypes: { json: JSON_TYPES },
      jsonLimit: `${config.http.bodyLimitBytes}b`,
      strict: true,
    }),
  );
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: true }));

  for (const mw of shared) koa.ws.use(mw);
  koa.ws.use(
    socketRoute({
      nodeId: config.node.id,
      heartbeatMs: config.socket.heartbeatMs,
      rateLimitPerS: config.socket.rateLimitPerS,
      rateLimitBurst: config.socket.rateLimitBurst,
      resumeMaxMessages: config.socket.resumeMaxMessages,
      maxTeamsPerConnection: config.socket.maxTeamsPerConnection,
      hub,
      bus: engine.bus,
      history: engine.history,
      presence: engine.presence,
      store: engine.store,
      messaging,
      metrics,
      log: logger,
      handshakes,
    }),
  );
  koa.ws.use(socketGuard());
  composeSocketChainOnce(koa, logger);

  return {
    koa,
    wsOptions,
    hub,
    router,
    config,
    logger,
    metrics,
    stats,
    startDraining: () => {
      draining = true;
    },
    closeServices: async () => {
      await stats.close();
      await engine.close();
    },
  };
}
