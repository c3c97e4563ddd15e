import { AppError } from '../services/errors';
import type { Member, Team } from '../services/types';
import type { ApiDeps, ApiRouter } from './api-deps';
import { createTeamBody, renameTeamBody, teamParams } from './api-schemas';
import { parse } from './validate';

/** A team as the admin API lists it. */
export interface TeamView {
  id: string;
  name: string;
  online: number;
  connections: number;
  createdAt: string | null;
}

/** A team exists when it is stored or has someone online; 404 otherwise. */
export async function findTeam(deps: ApiDeps, teamId: string) {
  const [team, members] = await Promise.all([
    deps.store.getTeam(teamId),
    deps.presence.members(teamId),
  ]);
  if (!team && members.length === 0) throw new AppError('not_found', `unknown team ${teamId}`);
  return { team, members };
}

function teamView(team: Team, members: Member[]): TeamView {
  return {
    id: team.id,
    name: team.name,
    online: members.length,
    connections: members.reduce((n, m) => n + m.connections, 0),
    createdAt: team.createdAt,
  };
}

/**
 * Renames a stored team. A team seen only on a socket may not be recorded yet (the
 * record is written in the background, and waits while SQL Server is down): it is
 * recorded now, so a live team can always be named.
 */
async function renameTeam(deps: ApiDeps, teamId: string, name: string) {
  const members = await deps.presence.members(teamId);
  let team = await deps.store.renameTeam(teamId, name);
  if (!team) {
    if (members.length === 0) throw new AppError('not_found', `unknown team ${teamId}`);
    await deps.store.ensureTeam(teamId);
    team = await deps.store.renameTeam(teamId, name);
    if (!team) throw new AppError('unavailable', `team ${teamId} could not be recorded; retry`);
  }
  return teamView(team, members);
}

export function teamRoutes(router: ApiRouter, deps: ApiDeps): void {
  router.get('/api/teams', async (ctx) => {
    const [stored, live] = await Promise.all([deps.store.listTeams(), deps.presence.teams()]);
    const teams = new Map<string, TeamView>();
    for (const t of stored) {
      teams.set(t.id, {
        id: t.id,
        name: t.name,
        online: 0,
        connections: 0,
        createdAt: t.createdAt,
      });
    }
    for (const p of live) {
      const view = teams.get(p.teamId) ?? {
        id: p.teamId,
        name: p.teamId,
        online: 0,
        connections: 0,
        createdAt: null,
      };
      view.online = p.online;
      view.connections = p.connections;
      teams.set(p.teamId, view);
    }
    ctx.body = { teams: [...teams.values()].sort((a, b) => (a.id < b.id ? -1 : 1)) };
  });

  router.post('/api/teams', async (ctx) => {
    const body = parse(createTeamBody, ctx.request.body, 'body');
    const team = await deps.store.createTeam(body);
    ctx.status = 201;
    ctx.body = { ...team, online: 0, connections: 0 };
  });

  router.patch('/api/teams/:teamId', async (ctx) => {
    const { teamId } = parse(teamParams, ctx.params);
    const { name } = parse(renameTeamBody, ctx.request.body, 'body');
    ctx.body = await renameTeam(deps, teamId, name);
  });

  router.get('/api/teams/:teamId', async (ctx) => {
    const { teamId } = parse(teamParams, ctx.params);
    const { team, members } = await findTeam(deps, teamId);
    ctx.body = {
      id: teamId,
      name: team?.name ?? teamId,
      online: members.length,
      connections: members.reduce((n, m) => n + m.connections, 0),
      createdAt: team?.createdAt ?? null,
      members,
    };
  });
}
