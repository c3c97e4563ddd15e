import { AppError } from '../services/errors';
import type { ApiDeps, ApiRouter } from './api-deps';
import { deadLetterParams, deadLettersQuery } from './api-schemas';
import { parse } from './validate';
import { withoutUndefined } from './without-undefined';

/** Archive rows SQL Server refused (poison messages), for an admin to inspect and clear. */
export function deadLetterRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/dead-letters', async (ctx) => {
    ctx.body = await deps.deadLetters.list(withoutUndefined(parse(deadLettersQuery, ctx.query)));
  });

  router.delete('/api/dead-letters/:id', async (ctx) => {
    const { id } = parse(deadLetterParams, ctx.params);
    if (!(await deps.deadLetters.remove(id)))
      throw new AppError('not_found', `unknown dead letter ${id}`);
    ctx.status = 204;
  });
}
