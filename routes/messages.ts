import { z } from 'zod';
import { AppError } from '../services/errors';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../protocol/limits';
import { messageView } from '../services/frames';
import { dataSchema, idSchema, nameSchema } from '../services/identifiers';
import type { ApiDeps, ApiRouter } from './api-deps';
import { findTeam, teamParams } from './teams';
import { parse } from './validate';

const SYSTEM = { id: 'system', name: 'system' };

const historyQuery = z.object({
  before: z.coerce.number().int().min(0).optional(),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .default(HISTORY_DEFAULT_LIMIT)
    .transform((n) => Math.min(n, HISTORY_MAX_LIMIT)),
});

const required = (v: { data?: unknown }) => v.data !== undefined;

const publishBody = z
  .object({
    data: dataSchema,
    to: idSchema.optional(),
    from: z.object({ id: idSchema, name: nameSchema }).optional(),
  })
  .refine(required, { message: 'data is required', path: ['data'] });

const broadcastBody = z
  .object({ data: dataSchema })
  .refine(required, { message: 'data is required', path: ['data'] });

export function messageRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/teams/:teamId/messages', async (ctx) => {
    const { teamId } = parse(teamParams, ctx.params);
    const q = parse(historyQuery, ctx.query);
    await findTeam(deps, teamId);
    const page = await deps.history.before(teamId, {
      limit: q.limit,
      ...(q.before === undefined ? {} : { before: q.before }),
    });
    ctx.body = { messages: page.messages.map(messageView), more: page.more };
  });

  router.post('/api/teams/:teamId/messages', async (ctx) => {
    const { teamId } = parse(teamParams, ctx.params);
    const body = parse(publishBody, ctx.request.body);
    await findTeam(deps, teamId);
    const ack = await deps.messaging.send({
      teamId,
      from: body.from ?? SYSTEM,
      ...(body.to === undefined ? {} : { to: body.to }),
      data: body.data,
      source: 'api',
    });
    ctx.status = 201;
    ctx.body = ack;
  });

  router.post('/api/broadcast', async (ctx) => {
    const body = parse(broadcastBody, ctx.request.body);
    const teams = await deps.presence.teams();
    const results = await Promise.allSettled(
      teams.map((t) =>
        deps.messaging.send({ teamId: t.teamId, from: SYSTEM, data: body.data, source: 'api' }),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) {
      throw new AppError(
        'unavailable',
        `published to ${teams.length - failed} of ${teams.length} teams`,
      );
    }
    ctx.status = 202;
    ctx.body = { teams: teams.length };
  });
}
