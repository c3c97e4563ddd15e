import { AppError } from '../errors';
import type { Store } from '../store';
import type { Team } from '../types';

export class MemoryStore implements Store {
  private readonly teams = new Map<string, Team>();

  async createTeam(team: { id: string; name: string }): Promise<Team> {
    if (this.teams.has(team.id)) throw new AppError('conflict', `team ${team.id} already exists`);
    const created = { id: team.id, name: team.name, createdAt: new Date().toISOString() };
    this.teams.set(team.id, created);
    return created;
  }

  async ensureTeam(id: string): Promise<Team> {
    const existing = this.teams.get(id);
    if (existing) return existing;
    const created = { id, name: id, createdAt: new Date().toISOString() };
    this.teams.set(id, created);
    return created;
  }

  async getTeam(id: string): Promise<Team | undefined> {
    return this.teams.get(id);
  }

  async renameTeam(id: string, name: string): Promise<Team | undefined> {
    const existing = this.teams.get(id);
    if (!existing) return undefined;
    const renamed = { ...existing, name };
    this.teams.set(id, renamed);
    return renamed;
  }

  async listTeams(): Promise<Team[]> {
    return [...this.teams.values()];
  }

  async close(): Promise<void> {}
}
