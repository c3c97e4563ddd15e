import type { Logger } from 'pino';
import { disabledChecks } from '../services/health';
import { MemoryBus } from '../services/memory-bus';
import { MemoryHistory } from '../services/memory-history';
import { MemoryIdempotency } from '../services/memory-idempotency';
import { MemoryPresence } from '../services/memory-presence';
import { MemoryStore } from '../services/memory-store';
import type { Engine } from './engine';

/** PROTOCOL §3: the same `ref` within 10 minutes returns the first ack. */
export const IDEMPOTENCY_TTL_MS = 10 * 60 * 1000;

/** The embedded engine: one process, nothing to install. */
export function createMemoryEngine(options: { historySize: number; log: Logger }): Engine {
  const history = new MemoryHistory({ retain: options.historySize });
  return {
    bus: new MemoryBus(history, (err) => options.log.error({ err }, 'delivery failed')),
    history,
    presence: new MemoryPresence(),
    store: new MemoryStore(),
    idempotency: new MemoryIdempotency(IDEMPOTENCY_TTL_MS),
    health: disabledChecks,
  };
}
