import type { ApiDeps, ApiRouter } from './api-deps';

/** The admin page's live charts: the last minutes of this node and of the cluster. */
export function statsRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/stats', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.stats.snapshot();
  });
}
