/**
 * Every Redis key and channel the engine uses, in one place. A team's keys share
 * the hash tag `{teamId}`; the batched publish script touches several teams (and
 * the presence scripts shared sets), so Redis Cluster is not supported (README).
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
  /** The last epoch made (no TTL): new epochs are never at or below it. */
  epochFloor(): string {
    return `${this.prefix}epochs:floor`;
  }
  ref(teamId: string, key: string): string {
    return `${this.prefix}{${teamId}}:ref:${key}`;
  }
  /** Pub/sub channel of a team: its messages and presence events. */
  teamChannel(teamId: string): string {
    return `${this.prefix}ch:team:${teamId}`;
  }
  /** Pub/sub channel of one node: kicks and readiness canaries. */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}ch:node:${nodeId}`;
  }
  teamFromChannel(channel: string): string | undefined {
    const head = `${this.prefix}ch:team:`;
    return channel.startsWith(head) ? channel.slice(head.length) : undefined;
  }

  // Presence
  /** Hash connId -> ConnectionInfo JSON, every connection in the cluster. */
  conns(): string {
    return `${this.prefix}conns`;
  }
  /** Sorted set (all scores 0) of connIds, for keyset pagination by connId. */
  connIndex(): string {
    return `${this.prefix}conns:index`;
  }
  /** Sorted set of a team's connIds. */
  teamConns(teamId: string): string {
    return `${this.prefix}team:${teamId}:conns`;
  }
  /** Hash userId -> open connections of that user in the team (dead nodes' included until cleaned). */
  teamUsers(teamId: string): string {
    return `${this.prefix}team:${teamId}:users`;
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

  /** Stream of accepted messages not yet written to SQL Server (consumer group `archivers`). */
  archive(): string {
    return `${this.prefix}archive`;
  }
  /** Capped stream of archive rows SQL Server refused (dead letters). */
  deadLetters(): string {
    return `${this.prefix}dead-letters`;
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
