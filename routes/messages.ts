import { AppError } from '../services/errors';
import { messageView } from '../services/frames';
import type { ApiDeps, ApiRouter } from './api-deps';
import { ARCHIVE_DOWN, broadcastBody, historyQuery, publishBody, teamParams } from './api-schemas';
import { findTeam } from './teams';
import { parse } from './validate';

const SYSTEM = { id: 'system', name: 'system' };

const isOutage = (err: unknown) =>
  err instanceof AppError && (err.code === 'unavailable' || err.code === 'indeterminate');

/**
 * Whether history may be read for this team: 404 when it is neither stored nor
 * online. While the store (SQL Server) is down, no one can say a team is unknown,
 * so the engine's retained messages are served and the answer says so (`archive: "down"`).
 */
async function historyTeam(deps: ApiDeps, teamId: string): Promise<{ store: 'up' | 'down' }> {
  const [stored, members] = await Promise.all([
    deps.store.getTeam(teamId).then(
      (team) => (team === undefined ? 'missing' : 'found'),
      (err: unknown) => {
        if (isOutage(err)) return 'down' as const;
        throw err;
      },
    ),
    deps.presence.members(teamId),
  ]);
  if (stored === 'missing' && members.length === 0)
    throw new AppError('not_found', `unknown team ${teamId}`);
  return { store: stored === 'down' ? 'down' : 'up' };
}

export function messageRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/teams/:teamId/messages', async (ctx) => {
    const { teamId } = parse(teamParams, ctx.params);
    const q = parse(historyQuery, ctx.query);
    const { store } = await historyTeam(deps, teamId);
    const page = await deps.history.before(teamId, {
      limit: q.limit,
      ...(q.before === undefined ? {} : { before: q.before }),
    });
    const archiveDown = store === 'down' || page.archive === 'down';
    ctx.body = {
      messages: page.messages.map(messageView),
      more: page.more,
      ...(archiveDown ? { archive: ARCHIVE_DOWN } : {}),
    };
  });

  router.post('/api/teams/:teamId/messages', async (ctx) => {
    const { teamId } = parse(teamParams, ctx.params);
    const body = parse(publishBody, ctx.request.body, 'body');
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
    const body = parse(broadcastBody, ctx.request.body, 'body');
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
