import type { Bans } from '../services/bans';
import type { Bus } from '../services/bus';
import type { DeadLetterCounts, DeadLetters } from '../services/dead-letters';
import type { HealthChecks } from '../services/health';
import type { History } from '../services/history';
import type { NodeStats } from '../services/node-stats';
import type { Presence } from '../services/presence';
import type { Store } from '../services/store';
import type { SqlParts } from './sql-setup';

/** docs/PROTOCOL.md §5: the same `ref` within 10 minutes returns the first ack. */
export const IDEMPOTENCY_TTL_MS = 10 * 60 * 1000;

/** The backends one node runs on; main picks an implementation of each. */
export interface Engine {
  bus: Bus;
  history: History;
  presence: Presence;
  store: Store;
  bans: Bans;
  health: HealthChecks;
  /** Messages accepted but not yet in the SQL archive; 0 without SQL Server. */
  backlogLength(): Promise<number>;
  /** Archive rows SQL Server refused for their values; always empty without SQL Server. */
  deadLetters: DeadLetters;
  /** Rows this node dead-lettered, and dead letters dropped past the cap, since start. */
  deadLetterCounts(): DeadLetterCounts;
  /** Where nodes share their counters for the live charts. */
  nodeStats: NodeStats;
  /** Closes the services in the order their dependencies allow, then their clients. */
  close(): Promise<void>;
}

/**
 * The close both engines share: the archiver drains what it can first, then the
 * services close in the order given, then the engine's own clients (`quitClients`),
 * and the SQL pool last.
 */
export async function closeEngine(
  sql: SqlParts | undefined,
  services: { close(): Promise<void> }[],
  quitClients?: () => Promise<void>,
): Promise<void> {
  await sql?.stop();
  for (const service of services) await service.close();
  await quitClients?.();
  await sql?.closePool();
}
