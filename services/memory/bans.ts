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

/** Bans of the embedded engine: one process, so the store is the mirror. */
export class MemoryBans implements Bans {
  private readonly bans = new Map<string, Ban>();
  private readonly mirror = new BanMirror();

  constructor(private readonly max = MAX_BANS) {}

  async add(draft: BanDraft): Promise<Ban> {
    this.prune(Date.now());
    const key = banKey(draft.userId, draft.teamId);
    if (!this.bans.has(key) && this.bans.size >= this.max) {
      throw new AppError('conflict', `too many active bans (${this.max}); lift some first`);
    }
    const ban = makeBan(draft, Date.now());
    this.bans.set(key, ban);
    this.mirror.set(ban);
    return ban;
  }

  async list(): Promise<Ban[]> {
    this.prune(Date.now());
    return [...this.bans.values()].sort(byUserThenTeam);
  }

  async remove(userId: string, teamId: string | undefined): Promise<boolean> {
    this.prune(Date.now());
    this.mirror.delete(userId, teamId);
    return this.bans.delete(banKey(userId, teamId));
  }

  isBanned(userId: string, teamId: string): boolean {
    return this.mirror.isBanned(userId, teamId);
  }

  // The event is this process's own announcement: the map already holds it.
  observe(_event: ClusterEvent): void {}

  async close(): Promise<void> {
    this.bans.clear();
    this.mirror.reset([]);
  }

  private prune(now: number): void {
    for (const [key, ban] of this.bans) {
      if (ban.expiresAt !== null && Date.parse(ban.expiresAt) <= now) this.bans.delete(key);
    }
    this.mirror.sweep(now);
  }
}
