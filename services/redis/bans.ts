import type { RedisClient } from './connection';
import {
  BanMirror,
  banKey,
  byUserThenTeam,
  makeBan,
  MAX_BANS,
  type Ban,
  type BanDraft,
  type Bans,
} from '../bans';
import type { ClusterEvent } from '../bus';
import { AppError } from '../errors';
import { execAll, redisCall } from './call';
import type { RedisKeys } from './keys';

/**
 * Drops expired index entries, refuses a new ban past the cap, then writes the ban
 * (with its TTL) and its index entry together.
 * KEYS: index, ban. ARGV: banKey, json, now ms, expiry score, ttl ms (0: none), max.
 */
const ADD = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then
  return 0
end
if ARGV[5] == '0' then
  redis.call('SET', KEYS[2], ARGV[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5])
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
`;

export interface RedisBansOptions {
  max?: number;
  /** How often the in-memory copy is read again from Redis; 0: never (tests). */
  refreshMs: number;
  onRefreshError: (err: unknown) => void;
}

/**
 * Bans shared by every node through Redis: each ban is a key with the ban's own TTL,
 * listed through a sorted set scored by expiry. Each node keeps every active ban in
 * memory (a BanMirror), so a handshake never waits on Redis: the bus's `ban` and
 * `unban` events keep it in step at once, and a periodic read (and one after the
 * subscriber reconnects, when pub/sub may have dropped an event) repairs it.
 */
export class RedisBans implements Bans {
  private readonly mirror = new BanMirror();
  private timer: NodeJS.Timeout | undefined;
  private readonly max: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisBansOptions,
  ) {
    this.max = options.max ?? MAX_BANS;
  }

  /** Loads the copy and starts refreshing it; a Redis outage is retried by the refresh. */
  async start(): Promise<void> {
    // A node that starts while Redis is down reads here before this connection is
    // ready, and fails: read again as soon as it is (and after every reconnect),
    // not only at the next periodic refresh.
    this.redis.off('ready', this.onReady);
    this.redis.on('ready', this.onReady);
    await this.refresh();
    if (this.options.refreshMs > 0 && this.timer === undefined) {
      this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
      this.timer.unref();
    }
  }

  private readonly onReady = (): void => void this.refresh();

  async refresh(): Promise<void> {
    try {
      await this.mirror.reload(() => this.list());
    } catch (err) {
      this.options.onRefreshError(err);
    }
  }

  async add(draft: BanDraft): Promise<Ban> {
    const now = Date.now();
    const ban = makeBan(draft, now);
    const key = banKey(ban.userId, ban.teamId);
    const added = await redisCall(() =>
      this.redis.eval(
        ADD,
        2,
        this.keys.bans(),
        this.keys.ban(key),
        key,
        JSON.stringify(ban),
        now,
        ban.expiresAt === null ? '+inf' : Date.parse(ban.expiresAt),
        draft.seconds * 1000,
        this.max,
      ),
    );
    if (added !== 1) {
      throw new AppError('conflict', `too many active bans (${this.max}); lift some first`);
    }
    this.mirror.set(ban);
    return ban;
  }

  async list(): Promise<Ban[]> {
    return redisCall(async () => {
      const index = this.keys.bans();
      const replies = await execAll(
        this.redis.multi().zremrangebyscore(index, '-inf', Date.now()).zrange(index, 0, -1),
      );
      const members = replies[1] as string[];
      if (members.length === 0) return [];
      const texts = await this.redis.mget(members.map((m) => this.keys.ban(m)));
      const now = Date.now();
      return texts
        .flatMap((text) => (text === null ? [] : [JSON.parse(text) as Ban]))
        .filter((ban) => ban.expiresAt === null || Date.parse(ban.expiresAt) > now)
        .sort(byUserThenTeam);
    });
  }

  async remove(userId: string, teamId: string | undefined): Promise<boolean> {
    const key = banKey(userId, teamId);
    const replies = await redisCall(() =>
      execAll(
        this.redis
          .multi()
          .zremrangebyscore(this.keys.bans(), '-inf', Date.now())
          .zrem(this.keys.bans(), key)
          .del(this.keys.ban(key)),
      ),
    );
    this.mirror.delete(userId, teamId);
    return replies[1] === 1;
  }

  isBanned(userId: string, teamId: string): boolean {
    return this.mirror.isBanned(userId, teamId);
  }

  observe(event: ClusterEvent): void {
    this.mirror.observe(event);
  }

  async close(): Promise<void> {
    this.redis.off('ready', this.onReady);
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
