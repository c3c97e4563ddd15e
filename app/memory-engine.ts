import type { Logger } from 'pino';
import { disabledChecks } from '../services/health';
import { MemoryBans } from '../services/memory/bans';
import { MemoryBus } from '../services/memory/bus';
import { MemoryHistory } from '../services/memory/history';
import { MemoryPresence } from '../services/memory/presence';
import { MemoryStore } from '../services/memory/store';
import { MemoryBacklog } from '../services/memory/backlog';
import { DEAD_LETTERS_MAX } from '../services/dead-letters';
import { MemoryDeadLetters } from '../services/memory/dead-letters';
import { IDEMPOTENCY_TTL_MS, type Engine } from './engine';
import type { SqlParts } from './sql-setup';

export interface MemoryEngineOptions {
  historySize: number;
  log: Logger;
  /** SQL Server store: teams and the archive. */
  sql?: SqlParts;
  /** Most messages waiting for the archive before sends are refused. */
  backlogMax?: number;
  /** Most dead letters held; the oldest are dropped past it. */
  deadLettersMax?: number;
}

/** The embedded engine: one process, nothing to install. */
export function createMemoryEngine(options: MemoryEngineOptions): Engine {
  const { sql } = options;
  const memoryHistory = new MemoryHistory({ retain: options.historySize });
  const backlog = sql ? new MemoryBacklog(options.backlogMax ?? 100_000) : undefined;
  const bus = new MemoryBus(
    memoryHistory,
    { idempotencyTtlMs: IDEMPOTENCY_TTL_MS, ...(backlog ? { backlog } : {}) },
    (err) => options.log.error({ err }, 'delivery failed'),
  );
  const presence = new MemoryPresence();
  const store = sql?.store ?? new MemoryStore();
  const bans = new MemoryBans();
  const deadLetters = new MemoryDeadLetters(options.deadLettersMax ?? DEAD_LETTERS_MAX);
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
    close: async () => {
      // The archiver drains what it can first; the pool closes last.
      await sql?.stop();
      await presence.close();
      await bans.close();
      await bus.close();
      await store.close();
      await sql?.closePool();
    },
  };
}
