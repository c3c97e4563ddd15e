import { AppError } from '../services/errors';
import { readiness } from '../services/health';
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
    const { ready, status, checks } = await readiness(deps.health, deps.isDraining());
    ctx.status = ready ? 200 : 503;
    ctx.body = { status, checks };
  });
}
