import { AppError } from '../services/errors';
import type { ApiDeps, ApiRouter } from './api-deps';
import { deadLetterParams, deadLettersQuery } from './api-schemas';
import { parse } from './validate';

/** Archive rows SQL Server refused (poison messages), for an admin to inspect and clear. */
export function deadLetterRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/dead-letters', async (ctx) => {
    const q = parse(deadLettersQuery, ctx.query);
    ctx.body = await deps.deadLetters.list({
      limit: q.limit,
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
  });

  router.delete('/api/dead-letters/:id', async (ctx) => {
    const { id } = parse(deadLetterParams, ctx.params);
    if (!(await deps.deadLetters.remove(id)))
      throw new AppError('not_found', `unknown dead letter ${id}`);
    ctx.status = 204;
  });
}
