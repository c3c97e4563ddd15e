import type Router from '@koa/router';
import type { AppState } from '../middleware/app-state';
import type { Bans } from '../services/bans';
import type { Bus } from '../services/bus';
import type { DeadLetters } from '../services/dead-letters';
import type { HealthChecks } from '../services/health';
import type { History } from '../services/history';
import type { Hub } from '../services/socket/hub';
import type { Messaging } from '../services/messaging';
import type { Metrics } from '../services/metrics';
import type { Presence } from '../services/presence';
import type { StatsSampler } from '../services/stats-sampler';
import type { Store } from '../services/store';

/** What the admin routes may call. */
export interface ApiDeps {
  hub: Hub;
  bus: Bus;
  history: History;
  presence: Presence;
  store: Store;
  bans: Bans;
  messaging: Messaging;
  health: HealthChecks;
  deadLetters: DeadLetters;
  metrics: Metrics;
  isDraining: () => boolean;
  stats: StatsSampler;
}

export type ApiRouter = Router<AppState>;
