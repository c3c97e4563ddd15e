import { slotTag } from './slot';

/**
 * Every Redis key and channel the engine uses, in one place. Every key a script
 * touches is a team's and carries the hash tag `{teamId}`, and so does the team's
 * channel: on Redis Cluster a script, and the SPUBLISH inside it, stays in the
 * team's slot. Keys without a team (presence indexes, leases, streams, the teams
 * store) are only ever used by single-key commands, so they may live anywhere;
 * the one exception, the archive backlog a publish script appends to, is one
 * stream per slot on Redis Cluster (slotArchive).
 * On one Redis the tags change nothing.
 */
export class RedisKeys {
  constructor(private readonly prefix: string) {}

  seq(teamId: string): string {
    return `${this.prefix}{${teamId}}:seq`;
  }
  log(teamId: string): string {
    return `${this.prefix}{${teamId}}:log`;
  }
  epoch(teamId: string): string {
    return `${this.prefix}{${teamId}}:epoch`;
  }
  /**
   * The team's last epoch made: its new epochs are never at or below it. Per team,
   * in the team's slot, since epochs are only ever compared within a team.
   */
  epochFloor(teamId: string): string {
    return `${this.prefix}{${teamId}}:epoch-floor`;
  }
  ref(teamId: string, key: string): string {
    return `${this.prefix}{${teamId}}:ref:${key}`;
  }
  /**
   * Pub/sub channel of a team: its messages and presence events. Tagged like the
   * team's keys, so on Redis Cluster the publish script can SPUBLISH to it.
   */
  teamChannel(teamId: string): string {
    return `${this.prefix}ch:team:{${teamId}}`;
  }
  /** Pub/sub channel of one node: kicks and readiness canaries. */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}ch:node:${nodeId}`;
  }
  teamFromChannel(channel: string): string | undefined {
    const head = `${this.prefix}ch:team:{`;
    return channel.startsWith(head) && channel.endsWith('}')
      ? channel.slice(head.length, -1)
      : undefined;
  }

  // Presence
  /**
   * Hash connId -> ConnectionInfo JSON, every connection in the cluster. Like the
   * other indexes here it is written beside the team's script, not in it, and
   * reconcile heals what a failure between the two leaves behind.
   */
  conns(): string {
    return `${this.prefix}conns`;
  }
  /** Sorted set (all scores 0) of connIds, for keyset pagination by connId. */
  connIndex(): string {
    return `${this.prefix}conns:index`;
  }
  /** Sorted set of a team's connIds: the truth the user counts follow (one script, one slot). */
  teamConns(teamId: string): string {
    return `${this.prefix}{${teamId}}:presence:conns`;
  }
  /** Hash userId -> open connections of that user in the team (dead nodes' included until cleaned). */
  teamUsers(teamId: string): string {
    return `${this.prefix}{${teamId}}:presence:users`;
  }
  /** Set of teams with at least one connection entry. */
  liveTeams(): string {
    return `${this.prefix}teams:live`;
  }
  /** Set of node ids that registered connections. */
  nodes(): string {
    return `${this.prefix}nodes`;
  }
  /** A node's lease: exists while the node is alive. */
  lease(nodeId: string): string {
    return `${this.prefix}node:${nodeId}:lease`;
  }
  /** Set of a node's connIds, so survivors can clean up after it. */
  nodeConns(nodeId: string): string {
    return `${this.prefix}node:${nodeId}:conns`;
  }
  /** Short lock so one survivor cleans a dead node. */
  cleanupLock(nodeId: string): string {
    return `${this.prefix}node:${nodeId}:cleanup`;
  }

  /**
   * Stream of accepted messages not yet written to SQL Server (consumer group
   * `archivers`), on one Redis: every publish script appends to it.
   */
  archive(): string {
    return `${this.prefix}archive`;
  }
  /**
   * The archive backlog of one hash slot, on Redis Cluster: its tag hashes to that
   * slot, so the publish script of a team in the slot appends to it in the same
   * step. One stream per slot in use, at most SLOTS, each found again by its slot.
   */
  slotArchive(slot: number): string {
    return `${this.prefix}{${slotTag(slot)}}:archive`;
  }
  /** Capped stream of archive rows SQL Server refused (dead letters). */
  deadLetters(): string {
    return `${this.prefix}dead-letters`;
  }
  /**
   * Marks that the message `messageId` was set aside (deadLetters' add script). Its
   * hash tag is the stream's whole name, so it lives in the stream's slot.
   */
  deadLetterMark(messageId: string): string {
    return `${this.prefix}{${this.deadLetters()}}:seen:${messageId}`;
  }

  /** Hash nodeId -> the node's latest stats sample (NodeStats). */
  nodeStats(): string {
    return `${this.prefix}node-stats`;
  }

  // Bans (one hash tag: the add script touches the index and the ban together)
  /** Sorted set of active bans (banKey), scored by expiry in ms (+inf: until lifted). */
  bans(): string {
    return `${this.prefix}{bans}:index`;
  }
  /** One ban's JSON, with the ban's own TTL. */
  ban(key: string): string {
    return `${this.prefix}{bans}:ban:${key}`;
  }
  /** Pub/sub channel every node subscribes to: bans and lifts. */
  clusterChannel(): string {
    return `${this.prefix}ch:cluster`;
  }

  // Store
  teams(): string {
    return `${this.prefix}teams`;
  }
}
