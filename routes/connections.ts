import { z } from 'zod';
import { AppError } from '../services/errors';
import { idSchema } from '../services/identifiers';
import type { ApiDeps, ApiRouter } from './api-deps';
import { parse } from './validate';

const listQuery = z.object({
  teamId: idSchema.optional(),
  userId: idSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(256).optional(),
});

const connParams = z.object({ connId: z.string().min(1).max(64) });

export function connectionRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/connections', async (ctx) => {
    const q = parse(listQuery, ctx.query);
    ctx.body = await deps.presence.list({
      limit: q.limit,
      ...(q.teamId === undefined ? {} : { teamId: q.teamId }),
      ...(q.userId === undefined ? {} : { userId: q.userId }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
  });

  router.delete('/api/connections/:connId', async (ctx) => {
    const { connId } = parse(connParams, ctx.params);
    const conn = await deps.presence.get(connId);
    if (!conn) throw new AppError('not_found', `unknown connection ${connId}`);
    // Held here: close now. Elsewhere in the cluster: the node that holds it does.
    if (!deps.hub.kick(connId)) await deps.bus.emit({ kind: 'kick', connId, node: conn.node });
    ctx.status = 204;
  });
}
