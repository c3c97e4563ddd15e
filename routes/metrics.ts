import type { ApiDeps, ApiRouter } from './api-deps';

export function metricsRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
}
