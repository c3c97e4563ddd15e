import type { RedisClient } from './connection';
import {
  pageLimit,
  type History,
  type HistoryPage,
  type Replay,
  type ReplayRequest,
} from '../history';
import { lostReplay, replayPage } from '../replay-page';
import { execAll, redisCall } from './call';
import type { RedisKeys } from './keys';
import { decodeLogEntry, type StreamEntry } from './payload';
import { defineScripts } from './scripts';
import { TeamHeads } from './team-heads';
import type { TurnWrites } from './turn-writes';
import { visibleTo, type Message, type TeamHead } from '../types';

export interface RedisHistoryOptions {
  /** Seconds a team's history lives after its last message. */
  ttlSeconds: number;
  /** Names the head script this node sends (TeamHeads). */
  nodeId?: string;
  /** The command client's TurnWrites: a turn's head reads leave with its presence adds. */
  turn?: TurnWrites;
}

/** Reads the team streams the publish script writes (entry id = `${seq}-0`). */
export class RedisHistory implements History {
  /** Every connection's welcome reads one: a turn's are read in one call. */
  private readonly heads: TeamHeads;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisHistoryOptions,
  ) {
    defineScripts(redis);
    this.heads = new TeamHeads(redis, keys, options.ttlSeconds, options);
  }

  async head(teamId: string): Promise<TeamHead> {
    return redisCall(() => this.heads.read(teamId));
  }

  async replay(teamId: string, request: ReplayRequest): Promise<Replay> {
    const { since, epoch, viewer, until } = request;
    const limit = pageLimit(request);
    // One MULTI: the head, the page and the oldest entry describe the same moment.
    // COUNT bounds the page whatever HISTORY_SIZE retains.
    const replies = await redisCall(() =>
      execAll(
        this.redis
          .multi()
          .sbHead(...headArgs(this.keys, teamId, this.options.ttlSeconds))
          .xrange(
            this.keys.log(teamId),
            `${since + 1}-0`,
            until === undefined ? '+' : `${until}-0`,
            'COUNT',
            limit,
          )
          .xrange(this.keys.log(teamId), '-', '+', 'COUNT', 1),
      ),
    );
    const [seqText, currentEpoch] = replies[0] as [string, string];
    const head = { seq: Number(seqText), epoch: currentEpoch };
    if ((epoch !== undefined && epoch !== currentEpoch) || since > head.seq) {
      return lostReplay(since, head);
    }
    const range = replies[1] as StreamEntry[];
    const oldest = replies[2] as StreamEntry[];
    const firstSeq = oldest.length > 0 ? seqOf(oldest[0]![0]) : head.seq + 1;
    return replayPage({
      since,
      end: Math.min(until ?? head.seq, head.seq),
      firstSeq,
      read: range.map(decodeLogEntry),
      limit,
      viewer,
      head,
    });
  }

  async retainedFrom(teamId: string): Promise<number> {
    return redisCall(async () => {
      const [oldest, seq] = await Promise.all([
        this.redis.xrange(this.keys.log(teamId), '-', '+', 'COUNT', 1) as Promise<StreamEntry[]>,
        this.redis.get(this.keys.seq(teamId)),
      ]);
      return oldest.length > 0 ? seqOf(oldest[0]![0]) : Number(seq ?? 0) + 1;
    });
  }

  async before(
    teamId: string,
    query: { before?: number; limit: number; viewer?: string },
  ): Promise<HistoryPage> {
    if (query.before !== undefined && query.before <= 1) return { messages: [], more: false };
    const page: Message[] = [];
    let end = query.before === undefined ? '+' : `(${query.before}-0`;
    const batch = Math.max(query.limit + 1, 64);
    return redisCall(async () => {
      for (;;) {
        const entries = (await this.redis.xrevrange(
          this.keys.log(teamId),
          end,
          '-',
          'COUNT',
          batch,
        )) as StreamEntry[];
        for (const entry of entries) {
          const message = decodeLogEntry(entry);
          if (!visibleTo(message, query.viewer)) continue;
          if (page.length === query.limit) return { messages: page.reverse(), more: true };
          page.push(message);
        }
        if (entries.length < batch) return { messages: page.reverse(), more: false };
        end = `(${entries[entries.length - 1]![0]}`;
      }
    });
  }
}

export function seqOf(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')));
}

/** KEYS of the scripts that read or renew a team's head (sbHead, sbRewound). */
export function headKeys(keys: RedisKeys, teamId: string): string[] {
  return [keys.seq(teamId), keys.epoch(teamId), keys.log(teamId), keys.epochFloor(teamId)];
}

/** KEYS and ARGV of the HEAD script (sbHead) for a team. */
export function headArgs(keys: RedisKeys, teamId: string, ttlSeconds: number): (string | number)[] {
  return [...headKeys(keys, teamId), ttlSeconds];
}
