import type { Logger } from 'pino';
import { disabledChecks } from '../services/health';
import { MemoryBus } from '../services/memory-bus';
import { MemoryHistory } from '../services/memory-history';
import { MemoryPresence } from '../services/memory-presence';
import { MemoryStore } from '../services/memory-store';
import type { Engine } from './engine';

/** PROTOCOL §3: the same `ref` within 10 minutes returns the first ack. */
export const IDEMPOTENCY_TTL_MS = 10 * 60 * 1000;

/** The embedded engine: one process, nothing to install. */
export function createMemoryEngine(options: { historySize: number; log: Logger }): Engine {
  const history = new MemoryHistory({ retain: options.historySize });
  const bus = new MemoryBus(history, { idempotencyTtlMs: IDEMPOTENCY_TTL_MS }, (err) =>
    options.log.error({ err }, 'delivery failed'),
  );
  const presence = new MemoryPresence();
  const store = new MemoryStore();
  return {
    bus,
    history,
    presence,
    store,
    health: disabledChecks,
    close: async () => {
      await presence.close();
      await bus.close();
      await store.close();
    },
  };
}
