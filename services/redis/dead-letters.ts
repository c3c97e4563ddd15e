import type { RedisClient } from './connection';
import {
  deadLetterBody,
  type DeadLetter,
  type DeadLetterDraft,
  type DeadLetterPage,
  type DeadLetters,
} from '../dead-letters';
import { AppError } from '../errors';
import { redisCall } from './call';
import type { RedisKeys } from './keys';
import { defineScripts } from './scripts';

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

type Entry = [id: string, fields: string[]];

function toDeadLetter([id, fields]: Entry): DeadLetter {
  const body = JSON.parse(fields[fields.indexOf('d') + 1]!) as Omit<DeadLetter, 'id'>;
  return { id, ...body };
}

/**
 * How long a message's mark keeps it from being set aside again: far longer than a
 * resend takes (a second at most) or a crashed node's batch waits to be claimed
 * (CLAIM_IDLE_MS), short enough that marks of old dead letters do not pile up.
 */
const MARK_TTL_S = 24 * 3600;

/**
 * Dead letters of the Redis engine: one stream shared by every node, capped at
 * `max` entries (XADD MAXLEN =), so the oldest go first. Stream ids are the
 * dead letters' ids and the list cursor. A message is set aside once: adding it
 * again within MARK_TTL_S (a command sent twice) adds nothing.
 */
export class RedisDeadLetters implements DeadLetters {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly max: number,
  ) {
    defineScripts(redis);
  }

  async add(drafts: DeadLetterDraft[]): Promise<number> {
    if (drafts.length === 0) return 0;
    const at = new Date().toISOString();
    const keys = [this.keys.deadLetters()];
    const bodies: string[] = [];
    for (const draft of drafts) {
      keys.push(this.keys.deadLetterMark(draft.message.id));
      bodies.push(JSON.stringify(deadLetterBody(draft, at)));
    }
    const dropped = await redisCall(() =>
      this.redis.sbDeadLettersAdd(keys.length, ...keys, this.max, MARK_TTL_S, ...bodies),
    );
    return Number(dropped);
  }

  async list(page: { limit: number; cursor?: string }): Promise<DeadLetterPage> {
    if (page.cursor !== undefined && !STREAM_ID.test(page.cursor))
      throw new AppError('bad_request', 'malformed cursor');
    const start = page.cursor === undefined ? '-' : `(${page.cursor}`;
    const entries = await redisCall(
      async () =>
        (await this.redis.xrange(
          this.keys.deadLetters(),
          start,
          '+',
          'COUNT',
          page.limit + 1,
        )) as Entry[],
      (err) => {
        // Well formed but out of range (past 2^64, or exclusive of the largest id).
        if (/stream ID|start ID/i.test(String((err as Error).message)))
          throw new AppError('bad_request', 'malformed cursor');
      },
    );
    const deadLetters = entries.slice(0, page.limit).map(toDeadLetter);
    return {
      deadLetters,
      next: entries.length > page.limit ? deadLetters[deadLetters.length - 1]!.id : null,
    };
  }

  async remove(id: string): Promise<boolean> {
    if (!STREAM_ID.test(id)) return false;
    return redisCall(async () => (await this.redis.xdel(this.keys.deadLetters(), id)) === 1);
  }

  async count(): Promise<number> {
    return redisCall(() => this.redis.xlen(this.keys.deadLetters()));
  }
}
