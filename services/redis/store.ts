import type { RedisClient } from './connection';
import { AppError } from '../errors';
import { redisCall } from './call';
import type { RedisKeys } from './keys';
import type { Store } from '../store';
import type { Team } from '../types';

/** Teams in one Redis hash, shared by every node, for clusters without SQL Server. */
export class RedisStore implements Store {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  private async put(id: string, name: string): Promise<{ created: boolean; team: Team }> {
    const team = { id, name, createdAt: new Date().toISOString() };
    return redisCall(async () => {
      if ((await this.redis.hsetnx(this.keys.teams(), id, JSON.stringify(team))) === 1)
        return { created: true, team };
      const existing = await this.redis.hget(this.keys.teams(), id);
      return { created: false, team: existing === null ? team : (JSON.parse(existing) as Team) };
    });
  }

  async createTeam(team: { id: string; name: string }): Promise<Team> {
    const result = await this.put(team.id, team.name);
    if (!result.created) throw new AppError('conflict', `team ${team.id} already exists`);
    return result.team;
  }

  async ensureTeam(id: string): Promise<Team> {
    return (await this.put(id, id)).team;
  }

  async getTeam(id: string): Promise<Team | undefined> {
    return redisCall(async () => {
      const text = await this.redis.hget(this.keys.teams(), id);
      return text === null ? undefined : (JSON.parse(text) as Team);
    });
  }

  /**
   * Read, then write: two renames racing end with one of the names (the last write),
   * and createdAt is the same in both, so no script is needed.
   */
  async renameTeam(id: string, name: string): Promise<Team | undefined> {
    return redisCall(async () => {
      const text = await this.redis.hget(this.keys.teams(), id);
      if (text === null) return undefined;
      const renamed = { ...(JSON.parse(text) as Team), name };
      await this.redis.hset(this.keys.teams(), id, JSON.stringify(renamed));
      return renamed;
    });
  }

  async listTeams(): Promise<Team[]> {
    return redisCall(async () =>
      (await this.redis.hvals(this.keys.teams())).map((t) => JSON.parse(t) as Team),
    );
  }

  async close(): Promise<void> {}
}
