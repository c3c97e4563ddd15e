import type { RedisClient } from './connection';
import type { RedisKeys } from './keys';
import { headsScriptFor } from './scripts';
import { SocketScript } from './script-command';
import { sendScript } from './send';
import { hashSlot } from './slot';
import { TurnWrites } from './turn-writes';
import { TurnBatch, type ItemResult } from '../turn-batch';
import type { TeamHead } from '../types';

/**
 * Team heads (the HEAD script: seq and epoch, made for a new team) read for a
 * whole event-loop turn at once: a join storm reads one head per connection, and
 * most of a turn's joins are to a few teams. One script call per turn (on Redis
 * Cluster, per slot: a script touches one), each team read once in it.
 *
 * A head read here is sent after every read asked for in the turn was asked, so it
 * is never older than any of them may rely on (a connection asks once its
 * subscription is confirmed; the bus asks before it subscribes).
 */
export class TeamHeads {
  private readonly batch: TurnBatch<string, TeamHead>;
  private readonly script: SocketScript;

  /**
   * `turn`: the client's TurnWrites, shared with the presence adds so a turn's joins
   * are one write; `nodeId` names the script (headsScriptFor).
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
    options: { nodeId?: string; turn?: TurnWrites } = {},
  ) {
    this.script = new SocketScript(headsScriptFor(options.nodeId ?? ''));
    const turn = options.turn ?? new TurnWrites(redis);
    this.batch = new TurnBatch((teamIds) => this.readAll(teamIds), turn.schedule);
  }

  /** Rejects with Redis's error as it is: callers map it (redisCall). */
  read(teamId: string): Promise<TeamHead> {
    return this.batch.add(teamId);
  }

  private async readAll(teamIds: string[]): Promise<ItemResult<TeamHead>[]> {
    const teams = [...new Set(teamIds)];
    const groups = this.redis.isCluster ? this.bySlot(teams) : [teams];
    const found = new Map<string, ItemResult<TeamHead>>();
    await Promise.all(
      groups.map(async (group) => {
        let answers: ([string, string] | string)[];
        const args: (string | number)[] = [this.script.sha, group.length * 4];
        for (const teamId of group) this.pushKeys(args, teamId);
        args.push(this.ttlSeconds);
        try {
          answers = (await sendScript(this.redis, this.script, args)) as typeof answers;
        } catch (error) {
          for (const t of group) found.set(t, { ok: false, error });
          return;
        }
        group.forEach((teamId, i) => found.set(teamId, toHead(answers[i])));
      }),
    );
    return teamIds.map((t) => found.get(t) ?? { ok: false, error: new Error('head not read') });
  }

  /** As history.ts's headKeys (the HEAD script's KEYS), which imports this file. */
  private pushKeys(args: (string | number)[], teamId: string): void {
    const { keys } = this;
    args.push(keys.seq(teamId), keys.epoch(teamId), keys.log(teamId), keys.epochFloor(teamId));
  }

  private bySlot(teams: string[]): string[][] {
    const slots = new Map<number, string[]>();
    for (const teamId of teams) {
      const slot = hashSlot(this.keys.seq(teamId));
      const group = slots.get(slot);
      if (group) group.push(teamId);
      else slots.set(slot, [teamId]);
    }
    return [...slots.values()];
  }
}

function toHead(answer: [string, string] | string | undefined): ItemResult<TeamHead> {
  if (Array.isArray(answer))
    return { ok: true, value: { seq: Number(answer[0]), epoch: answer[1] } };
  return { ok: false, error: new Error(answer ?? 'no head in the reply') };
}
