import { MemoryBans } from '../../services/memory/bans';
import { MemoryBacklog } from '../../services/memory/backlog';
import { MemoryBus } from '../../services/memory/bus';
import { MemoryDeadLetters } from '../../services/memory/dead-letters';
import { MemoryHistory } from '../../services/memory/history';
import { MemoryNodeStats } from '../../services/memory/node-stats';
import { MemoryPresence } from '../../services/memory/presence';
import { MemoryStore } from '../../services/memory/store';
import { bansContract } from './bans-contract';
import { backlogContract } from './backlog-contract';
import { deadLettersContract } from './dead-letters-contract';
import { engineContract } from './engine-contract';
import { nodeStatsContract } from './node-stats-contract';
import { presenceContract } from './presence-contract';
import { storeContract } from './store-contract';

/** The embedded engine's implementations, wired as app/memory-engine.ts does. */

engineContract('memory', async ({ retain }) => {
  const history = new MemoryHistory({ retain });
  const bus = new MemoryBus(history, { idempotencyTtlMs: 10 * 60 * 1000 });
  return { bus, history, nodeId: 'memory', close: () => bus.close() };
});

presenceContract('memory', async () => new MemoryPresence());

storeContract('memory', async () => new MemoryStore());

deadLettersContract('memory', async (max) => new MemoryDeadLetters(max));

nodeStatsContract('memory', async (now) => new MemoryNodeStats(now));

bansContract('memory', async (max) => new MemoryBans(max));

backlogContract('memory', async () => {
  const backlog = new MemoryBacklog(1000);
  const history = new MemoryHistory({ retain: 100 });
  const bus = new MemoryBus(history, { idempotencyTtlMs: 10 * 60 * 1000, backlog });
  const from = { id: 'alice', name: 'Alice' };
  return {
    publish: (data) => bus.publish({ teamId: 'T', from, data }),
    // One consumer per process: the archiver that takes again is the same one.
    taker: async () => backlog,
    // take starts its wait before it returns its promise.
    waiting: async () => undefined,
    close: async () => {
      await backlog.close();
      await bus.close();
    },
  };
});
