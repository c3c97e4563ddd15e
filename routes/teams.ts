import { z } from 'zod';
import { AppError } from '../services/errors';
import { idSchema, nameSchema } from '../services/identifiers';
import type { ApiDeps, ApiRouter } from './api-deps';
import { parse } from './validate';

const createTeamBody = z.object({ id: idSchema, name: nameSchema });

export const teamParams = z.object({ teamId: idSchema });

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
    const body = parse(createTeamBody, ctx.request.body);
    const team = await deps.store.createTeam(body);
    ctx.status = 201;
    ctx.body = { ...team, online: 0, connections: 0 };
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
