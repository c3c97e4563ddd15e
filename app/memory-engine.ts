import type { Logger } from 'pino';
import { disabledChecks } from '../services/health';
import { MemoryBans } from '../services/memory/bans';
import { MemoryBus } from '../services/memory/bus';
import { MemoryHistory } from '../services/memory/history';
import { MemoryNodeStats } from '../services/memory/node-stats';
import { MemoryPresence } from '../services/memory/presence';
import { MemoryStore } from '../services/memory/store';
import { MemoryBacklog } from '../services/memory/backlog';
import { MemoryDeadLetters } from '../services/memory/dead-letters';
import type { Config } from './config';
import { closeEngine, IDEMPOTENCY_TTL_MS, type Engine } from './engine';
import type { SqlParts } from './sql-setup';

/**
 * The embedded engine: one process, nothing to install. With `sql` (the SQL
 * Server store), teams and the archive live there.
 */
export function createMemoryEngine(
  config: Pick<Config, 'history' | 'archive'>,
  log: Logger,
  sql?: SqlParts,
): Engine {
  const memoryHistory = new MemoryHistory({ retain: config.history.size });
  const backlog = sql ? new MemoryBacklog(config.archive.backlogMax) : undefined;
  const bus = new MemoryBus(
    memoryHistory,
    { idempotencyTtlMs: IDEMPOTENCY_TTL_MS, ...(backlog ? { backlog } : {}) },
    (err) => log.error({ err }, 'delivery failed'),
  );
  const presence = new MemoryPresence();
  const store = sql?.store ?? new MemoryStore();
  const bans = new MemoryBans();
  const deadLetters = new MemoryDeadLetters(config.archive.deadLettersMax);
  if (sql && backlog) sql.startArchiver(backlog, deadLetters);
  return {
    bus,
    history: sql ? sql.history(memoryHistory) : memoryHistory,
    presence,
    store,
    bans,
    health: sql ? { ...disabledChecks, db: () => sql.check() } : disabledChecks,
    backlogLength: () => sql?.backlogLength() ?? Promise.resolve(0),
    deadLetters,
    deadLetterCounts: () => sql?.deadLetterCounts() ?? { added: 0, dropped: 0 },
    nodeStats: new MemoryNodeStats(),
    close: () => closeEngine(sql, [presence, bans, bus, store]),
  };
}
