import { AppError } from '../services/errors';
import type { ApiDeps, ApiRouter } from './api-deps';

/** Probes for load balancers and orchestrators; they need no token. */
export function healthRoutes(router: ApiRouter, deps: ApiDeps): void {
  // A plain GET of the socket endpoint: say what it expects instead of a bare 404.
  router.get('/socket', (ctx) => {
    ctx.set('Upgrade', 'websocket');
    throw new AppError('upgrade_required');
  });

  router.get('/api/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/api/ready', async (ctx) => {
    const [redis, db] = await Promise.all([
      deps.health.redis().catch(() => 'down' as const),
      deps.health.db().catch(() => 'down' as const),
    ]);
    const draining = deps.isDraining();
    const down = redis === 'down' || db === 'down';
    ctx.status = draining || down ? 503 : 200;
    ctx.body = {
      status: draining ? 'draining' : down ? 'unavailable' : 'ok',
      checks: { redis, db },
    };
  });
}
