import { z } from 'zod';
import { AppError } from '../services/errors';
import type { ApiDeps, ApiRouter } from './api-deps';
import { parse } from './validate';

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(64).optional(),
});

const letterParams = z.object({ id: z.string().min(1).max(64) });

/** Archive rows SQL Server refused (poison messages), for an admin to inspect and clear. */
export function deadLetterRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/dead-letters', async (ctx) => {
    const q = parse(listQuery, ctx.query);
    ctx.body = await deps.deadLetters.list({
      limit: q.limit,
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
  });

  router.delete('/api/dead-letters/:id', async (ctx) => {
    const { id } = parse(letterParams, ctx.params);
    if (!(await deps.deadLetters.remove(id)))
      throw new AppError('not_found', `unknown dead letter ${id}`);
    ctx.status = 204;
  });
}
