import type { ClusterEvent } from './bus';

/** An active ban, as the admin API shows it (docs/PROTOCOL.md §8 "Bans"). */
export interface Ban {
  userId: string;
  /** The team the ban covers; null: every team. */
  teamId: string | null;
  reason: string | null;
  /** ISO-8601. */
  createdAt: string;
  /** ISO-8601; null: until lifted. */
  expiresAt: string | null;
}

export interface BanDraft {
  userId: string;
  teamId?: string | undefined;
  /** 0: until lifted. */
  seconds: number;
  reason?: string | undefined;
}

/** POST /api/bans without `seconds`: one hour. */
export const DEFAULT_BAN_SECONDS = 3600;

/**
 * Most active bans a deployment holds. Every node keeps all of them in memory (see
 * `Bans.isBanned`), so they are bounded like everything else; past it, a new ban is
 * refused until some are lifted or expire.
 */
export const MAX_BANS = 10_000;

/**
 * Bans of users, per team or everywhere. Stored where the engine keeps its shared
 * state; every node also holds all active bans in memory, so a handshake checks
 * them without any I/O. The admin route that adds or lifts a ban announces it on
 * the bus (`ban` / `unban` events), which keeps the other nodes' copies in step
 * and closes the user's sockets everywhere.
 */
export interface Bans {
  /** Adds or replaces the ban of this user in this team (or everywhere). */
  add(draft: BanDraft): Promise<Ban>;
  /** Active bans, sorted by user then team (the cluster-wide ones first). */
  list(): Promise<Ban[]>;
  /** Lifts the ban; false when there was none. */
  remove(userId: string, teamId: string | undefined): Promise<boolean>;
  /** Whether the user may not join the team now: local, synchronous, no I/O. */
  isBanned(userId: string, teamId: string): boolean;
  /** Keeps this node's copy in step with a ban added or lifted on another node. */
  observe(event: ClusterEvent): void;
  close(): Promise<void>;
}

/** The key of a ban among the others: one ban per user and team (or everywhere). */
export function banKey(userId: string, teamId: string | null | undefined): string {
  // Ids never hold `|` (services/identifiers.ts), so the key is unambiguous.
  return `${userId}|${teamId ?? ''}`;
}

export function makeBan(draft: BanDraft, now: number): Ban {
  return {
    userId: draft.userId,
    teamId: draft.teamId ?? null,
    reason: draft.reason ?? null,
    createdAt: new Date(now).toISOString(),
    expiresAt: draft.seconds === 0 ? null : new Date(now + draft.seconds * 1000).toISOString(),
  };
}

export function byUserThenTeam(a: Ban, b: Ban): number {
  if (a.userId !== b.userId) return a.userId < b.userId ? -1 : 1;
  if (a.teamId === b.teamId) return 0;
  if (a.teamId === null) return -1;
  if (b.teamId === null) return 1;
  return a.teamId < b.teamId ? -1 : 1;
}

/** Least time between two sweeps of a BanMirror for expired bans. */
const SWEEP_GAP_MS = 1000;

/** A ban added or lifted: what a BanMirror replays over a reread that overlapped it. */
type BanChange = Extract<ClusterEvent, { kind: 'ban' | 'unban' }>;

/**
 * The active bans one node knows of, in memory: what every handshake asks. With no
 * bans at all the check is one Map size test.
 */
export class BanMirror {
  /** banKey -> ms since epoch it expires, or Infinity. */
  private readonly entries = new Map<string, number>();
  /** One per reread in flight: the changes made here since it started reading. */
  private readonly rereads = new Set<BanChange[]>();
  /**
   * When to look for expired entries next (ms since epoch). A ban that expires is
   * otherwise only dropped when its own user comes back, and a user who never does
   * would stay in memory for good (and keep the no-bans fast path off).
   */
  private nextSweep = Infinity;

  get size(): number {
    return this.entries.size;
  }

  set(ban: Ban): void {
    this.change({ kind: 'ban', ban });
  }

  delete(userId: string, teamId: string | null | undefined): void {
    this.change({ kind: 'unban', userId, teamId: teamId ?? null });
  }

  /** Replaces everything with what storage holds. */
  reset(bans: Ban[]): void {
    this.entries.clear();
    this.nextSweep = Infinity;
    for (const ban of bans) this.apply({ kind: 'ban', ban });
  }

  /**
   * Replaces everything with what `read` finds in storage. A ban or a lift made
   * here while it reads (this node's own, or another's announcement) may be
   * newer than the read, so it is applied again over it: else a reread that
   * overlaps a ban would drop it until the next one.
   */
  async reload(read: () => Promise<Ban[]>): Promise<void> {
    const since: BanChange[] = [];
    this.rereads.add(since);
    try {
      const bans = await read();
      this.reset(bans);
      for (const change of since) this.apply(change);
    } finally {
      this.rereads.delete(since);
    }
  }

  observe(event: ClusterEvent): void {
    if (event.kind === 'ban' || event.kind === 'unban') this.change(event);
  }

  private change(change: BanChange): void {
    for (const since of this.rereads) since.push(change);
    this.apply(change);
  }

  private apply(change: BanChange): void {
    if (change.kind === 'unban') {
      this.entries.delete(banKey(change.userId, change.teamId));
      return;
    }
    const { ban } = change;
    const until = ban.expiresAt === null ? Infinity : Date.parse(ban.expiresAt);
    this.entries.set(banKey(ban.userId, ban.teamId), until);
    this.nextSweep = Math.min(this.nextSweep, until);
  }

  isBanned(userId: string, teamId: string): boolean {
    if (this.entries.size === 0) return false;
    const now = Date.now();
    if (now >= this.nextSweep) this.sweep(now);
    return this.active(banKey(userId, null), now) || this.active(banKey(userId, teamId), now);
  }

  /**
   * Drops every expired entry. At most once a second: with many bans expiring one
   * after another, a handshake must not walk all of them each time.
   */
  sweep(now: number): void {
    let next = Infinity;
    for (const [key, until] of this.entries) {
      if (until <= now) this.entries.delete(key);
      else next = Math.min(next, until);
    }
    this.nextSweep = next === Infinity ? Infinity : Math.max(next, now + SWEEP_GAP_MS);
  }

  private active(key: string, now: number): boolean {
    const until = this.entries.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.entries.delete(key);
    return false;
  }
}
