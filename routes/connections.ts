import { AppError } from '../services/errors';
import type { ApiDeps, ApiRouter } from './api-deps';
import { connectionParams, connectionsQuery } from './api-schemas';
import { parse } from './validate';
import { withoutUndefined } from './without-undefined';

export function connectionRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/connections', async (ctx) => {
    const page = await deps.presence.list(withoutUndefined(parse(connectionsQuery, ctx.query)));
    // One row per team a connection follows: a subscription's row names the
    // connection itself and its home team.
    ctx.body = {
      connections: page.connections.map(({ home, ...row }) =>
        home === undefined ? row : { ...row, connId: home.connId, homeTeamId: home.teamId },
      ),
      next: page.next,
    };
  });

  router.delete('/api/connections/:connId', async (ctx) => {
    const { connId } = parse(connectionParams, ctx.params);
    const entry = await deps.presence.get(connId);
    if (!entry) throw new AppError('not_found', `unknown connection ${connId}`);
    // A subscription's entry (`<connId>@<teamId>`) is no socket: close the one it belongs to.
    const socket = entry.home?.connId ?? connId;
    // Held here: close now. Elsewhere in the cluster: the node that holds it does.
    if (!deps.hub.kick(socket)) {
      await deps.bus.emit({ kind: 'kick', connId: socket, node: entry.node });
    }
    ctx.status = 204;
  });
}
