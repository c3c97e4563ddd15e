import type { RedisClient } from './connection';
import { AppError } from '../errors';
import { redisCall } from './call';
import type { RedisKeys } from './keys';
import { teamsPutScriptFor } from './scripts';
import { SocketScript } from './script-command';
import { sendScript } from './send';
import type { Store } from '../store';
import { TurnBatch, type ItemResult } from '../turn-batch';
import { TurnWrites } from './turn-writes';
import type { Team } from '../types';

/** Teams in one Redis hash, shared by every node, for clusters without SQL Server. */
export class RedisStore implements Store {
  /**
   * Every node records each team its first connection joins: a join storm over many
   * small teams writes a turn's records in one script call (TEAMS_PUT), sent with
   * the turn's head reads and presence adds, not two round trips (HSETNX, HGET) each.
   */
  private readonly puts: TurnBatch<Team, { created: boolean; team: Team }>;
  private readonly script: SocketScript;

  /** `turn`, `nodeId`: as RedisPresence's. */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    options: { nodeId?: string; turn?: TurnWrites } = {},
  ) {
    this.script = new SocketScript(teamsPutScriptFor(options.nodeId ?? ''));
    const turn = options.turn ?? new TurnWrites(redis);
    this.puts = new TurnBatch((teams) => this.putAll(teams), turn.schedule);
  }

  private put(id: string, name: string): Promise<{ created: boolean; team: Team }> {
    return redisCall(() => this.puts.add({ id, name, createdAt: new Date().toISOString() }));
  }

  private async putAll(teams: Team[]): Promise<ItemResult<{ created: boolean; team: Team }>[]> {
    const args: string[] = [this.script.sha, '1', this.keys.teams()];
    for (const team of teams) args.push(team.id, JSON.stringify(team));
    const answers = (await sendScript(this.redis, this.script, args)) as (number | string)[];
    return teams.map((team, i) => {
      const answer = answers[i];
      if (answer === 1) return { ok: true, value: { created: true, team } };
      if (typeof answer !== 'string')
        return { ok: false, error: new Error('no answer from the teams script') };
      return { ok: true, value: { created: false, team: JSON.parse(answer) as Team } };
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
