import { AppError } from '../services/errors';
import type { ApiDeps, ApiRouter } from './api-deps';
import { banBody, liftParams, liftQuery } from './api-schemas';
import { parse } from './validate';

/**
 * Bans (docs/PROTOCOL.md §8): stored by the engine, then announced on the bus, so
 * every node, this one included, closes the user's sockets and refuses them.
 */
export function banRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.post('/api/bans', async (ctx) => {
    const body = parse(banBody, ctx.request.body, 'body');
    const ban = await deps.bans.add(body);
    try {
      await deps.bus.emit({ kind: 'ban', ban });
    } catch (err) {
      // Stored, so handshakes everywhere are refused once nodes reread their bans;
      // but the open sockets elsewhere were not closed: a retry replaces it and tells them.
      deps.hub.closeBanned(ban.userId, ban.teamId);
      throw new AppError(
        'unavailable',
        'the ban is stored but other nodes were not told to close its sockets; retry',
        { cause: err },
      );
    }
    deps.metrics.bans.inc();
    ctx.status = 201;
    ctx.body = ban;
  });

  router.get('/api/bans', async (ctx) => {
    ctx.body = { bans: await deps.bans.list() };
  });

  router.delete('/api/bans/:userId', async (ctx) => {
    const { userId } = parse(liftParams, ctx.params);
    const { teamId } = parse(liftQuery, ctx.query);
    if (!(await deps.bans.remove(userId, teamId))) {
      const where = teamId === undefined ? 'everywhere' : `in team ${teamId}`;
      throw new AppError('not_found', `no ban of ${userId} ${where}`);
    }
    // Best effort: a node that misses it drops the ban at its next reread.
    await deps.bus.emit({ kind: 'unban', userId, teamId: teamId ?? null }).catch(() => undefined);
    ctx.status = 204;
  });
}
