import {
  decodeCursor,
  encodeCursor,
  type ConnectionPage,
  type ConnectionQuery,
  type Presence,
} from '../presence';
import type { ConnectionInfo, Member, TeamPresence } from '../types';

interface UserEntry {
  name: string;
  /**
   * The user's connections in the team: the one id while there is one, a Set from
   * the second on. Most users hold one connection, and a Set (with its table) per
   * user was most of what presence kept per connection.
   */
  connIds: string | Set<string>;
}

function connectionCount(user: UserEntry): number {
  return typeof user.connIds === 'string' ? 1 : user.connIds.size;
}

/** Presence of the single embedded node. */
export class MemoryPresence implements Presence {
  private readonly conns = new Map<string, ConnectionInfo>();
  private readonly byTeam = new Map<string, Map<string, UserEntry>>();

  async add(conn: ConnectionInfo): Promise<{ first: boolean }> {
    this.conns.set(conn.connId, conn);
    let users = this.byTeam.get(conn.teamId);
    if (!users) {
      users = new Map();
      this.byTeam.set(conn.teamId, users);
    }
    const user = users.get(conn.userId);
    if (user === undefined) {
      users.set(conn.userId, { name: conn.name, connIds: conn.connId });
      return { first: true };
    }
    user.name = conn.name;
    if (typeof user.connIds !== 'string') user.connIds.add(conn.connId);
    else if (user.connIds !== conn.connId) user.connIds = new Set([user.connIds, conn.connId]);
    return { first: false };
  }

  async remove(conn: ConnectionInfo): Promise<{ last: boolean }> {
    if (!this.conns.delete(conn.connId)) return { last: false };
    const users = this.byTeam.get(conn.teamId);
    const user = users?.get(conn.userId);
    if (!users || !user) return { last: false };
    if (typeof user.connIds === 'string') {
      if (user.connIds !== conn.connId) return { last: false };
    } else {
      user.connIds.delete(conn.connId);
      if (user.connIds.size > 0) return { last: false };
    }
    users.delete(conn.userId);
    if (users.size === 0) this.byTeam.delete(conn.teamId);
    return { last: true };
  }

  async get(connId: string): Promise<ConnectionInfo | undefined> {
    return this.conns.get(connId);
  }

  async members(teamId: string): Promise<Member[]> {
    const users = this.byTeam.get(teamId);
    if (!users) return [];
    return [...users].map(([id, user]) => ({
      id,
      name: user.name,
      connections: connectionCount(user),
    }));
  }

  async teams(): Promise<TeamPresence[]> {
    return [...this.byTeam].map(([teamId, users]) => {
      let connections = 0;
      for (const user of users.values()) connections += connectionCount(user);
      return { teamId, online: users.size, connections };
    });
  }

  async teamCount(): Promise<number> {
    return this.byTeam.size;
  }

  async list(query: ConnectionQuery): Promise<ConnectionPage> {
    const after = decodeCursor(query.cursor);
    const matches = [...this.conns.values()]
      .filter(
        (c) =>
          (query.teamId === undefined || c.teamId === query.teamId) &&
          (query.userId === undefined || c.userId === query.userId) &&
          (after === undefined || c.connId > after),
      )
      .sort((a, b) => (a.connId < b.connId ? -1 : 1));
    const connections = matches.slice(0, query.limit);
    const next =
      matches.length > query.limit
        ? encodeCursor(connections[connections.length - 1]!.connId)
        : null;
    return { connections, next };
  }

  async close(): Promise<void> {}
}
