import { setTimeout as delay } from 'node:timers/promises';
import type { RedisClient } from './connection';
import type { Logger } from 'pino';
import type { ClusterEvent } from '../bus';
import { encodeEvent } from './payload';
import { decodeCursor, encodeCursor } from '../presence';
import type { ConnectionPage, ConnectionQuery, Presence } from '../presence';
import { redisCall } from './call';
import type { RedisKeys } from './keys';
import { defineScripts, presenceAddScriptFor } from './scripts';
import { SocketScript } from './script-command';
import { sendScript } from './send';
import { hashSlot } from './slot';
import { TurnBatch, type ItemResult } from '../turn-batch';
import { TurnWrites } from './turn-writes';
import type { ConnectionInfo, Member, TeamPresence } from '../types';

/** Renewals (a third of a lease each) between routine reconciliations. */
const RECONCILE_EVERY = 3;

/** How often a node back from a lapsed lease looks whether the survivor sweeping it is done. */
const SWEEP_POLL_MS = 25;

export interface RedisPresenceOptions {
  nodeId: string;
  /** How long a node's entries count without a renewal. */
  leaseMs: number;
  /**
   * Sends the `leave` events when a survivor cleans up after a dead node, and the
   * `join` events when a node restores users that had left in everyone's view.
   */
  announce: (event: ClusterEvent) => Promise<void>;
  /** The command client's TurnWrites: a turn's presence adds leave with its head reads. */
  turn?: TurnWrites;
  log: Logger;
}

/**
 * Cluster-wide presence in Redis. Each node renews a lease; the entries of a node
 * whose lease has expired are ignored by every read at once, and the first
 * survivor to notice removes them and announces the users who left with it.
 * Join/leave stay user-level because a per-team hash counts each user's
 * connections across all nodes.
 *
 * The team's part is one script (its connIds and user counts, in the team's slot),
 * so it works on Redis Cluster. The cluster-wide indexes (the connection's info,
 * the admin listing, live teams, nodes, a node's connections) are written before
 * it on add (on Redis Cluster with single-key commands, as they live in other
 * slots; on one Redis by the add script itself) and after it on remove, with
 * single-key commands. So an index may name a connection the team no longer holds
 * (reads skip it, reconcile removes it) but a team never holds one the indexes lack.
 */
export class RedisPresence implements Presence {
  /** This node's own connections: the truth to restore after Redis lost them. */
  private readonly local = new Map<string, ConnectionInfo>();
  private timer: NodeJS.Timeout | undefined;
  /**
   * Starts true: a node restarted under its old NODE_ID finds that process's lease
   * still alive and its connections still listed. The first renewal must take the
   * lease and reconcile (dropping those connections) before the node is ready,
   * not wait for the periodic reconcile.
   */
  private dirty = true;
  private renewals = 0;
  private leaseHeld = false;
  private ticking = false;
  /**
   * Counts the command connection's closes: a renewal that spans one may have written
   * to a Redis that has since restarted empty or failed over, so it proves nothing.
   */
  private connections = 0;
  /** The connection came back while a tick ran: that tick runs once more on the new one. */
  private tickAgain = false;
  private closed = false;
  private readonly adds: TurnBatch<{ conn: ConnectionInfo; announce: boolean }, number>;
  /** PRESENCE_ADD, sent by this node itself: see TurnWrites. */
  private readonly addScript: SocketScript;
  private readonly removes = new TurnBatch((items: { conn: ConnectionInfo; node: string }[]) =>
    this.runRemoves(items),
  );

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisPresenceOptions,
  ) {
    defineScripts(redis);
    this.addScript = new SocketScript(presenceAddScriptFor(options.nodeId));
    const turn = options.turn ?? new TurnWrites(redis);
    this.adds = new TurnBatch((items) => this.runAdds(items), turn.schedule);
  }

  /**
   * True while this node holds its lease and Redis holds its connections: until
   * then other nodes cannot see them, so the node must not report ready.
   */
  get registered(): boolean {
    return this.leaseHeld && !this.dirty;
  }

  /** Takes the lease and starts renewing it and sweeping dead nodes. */
  async start(): Promise<void> {
    if (this.timer) return;
    // Whatever Redis answers next (restarted empty, a promoted replica that missed our
    // last writes, or the same one) is unknown until a renewal on the new connection has
    // checked: until then the node must not report ready on the strength of the old one.
    this.redis.on('close', () => {
      this.connections++;
      this.dirty = true;
      this.leaseHeld = false;
    });
    // Back from an outage: re-register now rather than at the next tick, and if a tick
    // is under way, once more when it ends (it may have started on the old connection).
    this.redis.on('ready', () => void this.tick(true));
    this.timer = setInterval(() => void this.tick(), this.renewEveryMs());
    this.timer.unref();
    await this.tick();
  }

  private renewEveryMs(): number {
    return Math.max(50, Math.floor(this.options.leaseMs / 3));
  }

  /**
   * With `announceJoin`, the user's join is published by the add's script itself when
   * this is their first connection in the team (`announced`), right after the entry.
   */
  async add(
    conn: ConnectionInfo,
    announceJoin = false,
  ): Promise<{ first: boolean; announced?: boolean }> {
    this.local.set(conn.connId, conn);
    return redisCall(
      async () => {
        const first = (await this.addEntry(conn, announceJoin)) === 1;
        return announceJoin ? { first, announced: first } : { first };
      },
      () => {
        // The socket closes without a remove (its setup failed), so it must not stay
        // here: reconcile would restore it, and announce its join, for good.
        this.local.delete(conn.connId);
        this.dirty = true;
      },
    );
  }

  async remove(conn: ConnectionInfo): Promise<{ last: boolean }> {
    this.local.delete(conn.connId);
    return redisCall(
      async () => ({ last: (await this.removeEntry(conn, this.options.nodeId)) === 0 }),
      () => {
        this.dirty = true;
      },
    );
  }

  /**
   * Returns the user's connection count in the team after adding, or 0 if already
   * present. With `announce`, a count of 1 means the join was published.
   */
  private addEntry(conn: ConnectionInfo, announce = false): Promise<number> {
    return this.adds.add({ conn, announce });
  }

  /**
   * The adds of one turn of the event loop: the cluster-wide indexes first, then
   * the teams' part. On one Redis that is one script call; on Redis Cluster one
   * command per index key, then a script call per slot. A reconnect storm adds
   * thousands of connections in a few seconds, and seven commands each cost Redis
   * (which shares the node's core in small set-ups) far more than a few per turn.
   */
  private async runAdds(
    items: { conn: ConnectionInfo; announce: boolean }[],
  ): Promise<ItemResult<number>[]> {
    const conns = items.map((i) => i.conn);
    // On one Redis every key is the script's to write: it writes the indexes itself.
    const indexed = !this.redis.isCluster;
    if (!indexed) await this.writeIndexes(conns);
    const announce = new Set(items.filter((i) => i.announce).map((i) => i.conn));
    return this.runScripts(
      conns,
      (group) =>
        sendScript(this.redis, this.addScript, this.addArgs(group, announce, indexed)) as Promise<
          (number | string)[]
        >,
    ).then((answers) =>
      answers.map((answer) =>
        answer.ok && typeof answer.value !== 'number'
          ? { ok: false, error: new Error(String(answer.value)) }
          : (answer as ItemResult<number>),
      ),
    );
  }

  private async writeIndexes(conns: ConnectionInfo[]): Promise<void> {
    const { nodeId } = this.options;
    const connIds = conns.map((c) => c.connId);
    // One command per key, not a MULTI: on Redis Cluster they live in different slots.
    await Promise.all([
      this.redis.sadd(this.keys.nodes(), nodeId),
      this.redis.sadd(this.keys.nodeConns(nodeId), ...connIds),
      this.redis.hset(this.keys.conns(), new Map(conns.map((c) => [c.connId, JSON.stringify(c)]))),
      this.redis.zadd(this.keys.connIndex(), ...connIds.flatMap((id) => [0, id])),
      this.redis.sadd(this.keys.liveTeams(), ...new Set(conns.map((c) => c.teamId))),
    ]);
  }

  /**
   * sha, numkeys, KEYS and ARGV of the add script (PRESENCE_ADD) for connections of
   * one slot; with `indexed`, the script writes the cluster-wide indexes too.
   */
  private addArgs(
    conns: ConnectionInfo[],
    announce: Set<ConnectionInfo>,
    indexed: boolean,
  ): string[] {
    const { nodeId } = this.options;
    const { keys } = this;
    const args = indexed
      ? [
          this.addScript.sha,
          String(5 + conns.length * 2),
          keys.nodes(),
          keys.nodeConns(nodeId),
          keys.conns(),
          keys.connIndex(),
          keys.liveTeams(),
        ]
      : [this.addScript.sha, String(conns.length * 2)];
    for (const c of conns) args.push(keys.teamConns(c.teamId), keys.teamUsers(c.teamId));
    args.push(this.redis.isCluster ? '1' : '0', indexed ? nodeId : '');
    for (const c of conns) {
      args.push(
        c.connId,
        c.userId,
        c.teamId,
        keys.teamChannel(c.teamId),
        // The event the bus would emit (encodeEvent): receivers cannot tell the two apart.
        announce.has(c) ? encodeEvent(presenceEvent(c, 'join')) : '',
        indexed ? JSON.stringify(c) : '',
      );
    }
    return args;
  }

  /**
   * numkeys, KEYS and ARGV of the remove script (PRESENCE_REMOVE) for connections of one slot.
   * ARGV is written behind KEYS in one array, in the same order.
   */
  private removeArgs(conns: ConnectionInfo[]): string[] {
    const args = [String(conns.length * 2)];
    for (const c of conns) args.push(this.keys.teamConns(c.teamId), this.keys.teamUsers(c.teamId));
    for (const c of conns) args.push(c.connId, c.userId);
    return args;
  }

  /**
   * Runs a presence script per group of connections that share a slot (all of them
   * on one Redis), each answer beside its connection; a group whose call failed
   * answers its failure for each of its connections.
   */
  private async runScripts<A>(
    conns: ConnectionInfo[],
    call: (group: ConnectionInfo[]) => Promise<A[]>,
  ): Promise<ItemResult<A>[]> {
    const results: ItemResult<A>[] = new Array<ItemResult<A>>(conns.length);
    const groups = new Map<number, number[]>();
    conns.forEach((c, i) => {
      const slot = this.redis.isCluster ? hashSlot(this.keys.teamConns(c.teamId)) : 0;
      const group = groups.get(slot);
      if (group) group.push(i);
      else groups.set(slot, [i]);
    });
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        try {
          const answers = await call(indexes.map((i) => conns[i]!));
          indexes.forEach((i, j) => {
            const answer = answers[j];
            results[i] =
              answer === undefined
                ? { ok: false, error: new Error('no answer from the presence script') }
                : { ok: true, value: answer };
          });
        } catch (error) {
          for (const i of indexes) results[i] = { ok: false, error };
        }
      }),
    );
    return results;
  }

  /**
   * With `ifDead`, nothing is removed when `node` holds its lease again (returns -2).
   * The lease is read before the script, not in it (another slot): a node that
   * renews in between is swept once more, and its reconcile restores it.
   */
  private async removeEntry(conn: ConnectionInfo, node: string, ifDead = false): Promise<number> {
    if (ifDead && (await this.redis.exists(this.keys.lease(node))) === 1) return -2;
    return this.removes.add({ conn, node });
  }

  /**
   * The removes of one turn: the teams' part in one script call (per slot on Redis
   * Cluster), then the indexes, one command per key, for the connections whose
   * script ran (an index never lacks a connection a team holds).
   */
  private async runRemoves(
    items: { conn: ConnectionInfo; node: string }[],
  ): Promise<ItemResult<number>[]> {
    const answers = await this.runScripts(
      items.map((i) => i.conn),
      (group) => this.redis.sbPresenceRemove(...this.removeArgs(group)),
    );
    const results: ItemResult<number>[] = [];
    const removed: { conn: ConnectionInfo; node: string }[] = [];
    const emptied = new Set<string>();
    items.forEach((item, i) => {
      const answer = answers[i]!;
      if (!answer.ok) results.push(answer);
      else if (!Array.isArray(answer.value))
        results.push({ ok: false, error: new Error(String(answer.value)) });
      else {
        const [left, empty] = answer.value;
        results.push({ ok: true, value: left });
        removed.push(item);
        if (empty === 1) emptied.add(item.conn.teamId);
      }
    });
    if (removed.length === 0) return results;
    const connIds = removed.map((r) => r.conn.connId);
    const byNode = new Map<string, string[]>();
    for (const { conn, node } of removed) {
      const ids = byNode.get(node);
      if (ids) ids.push(conn.connId);
      else byNode.set(node, [conn.connId]);
    }
    try {
      await Promise.all([
        this.redis.hdel(this.keys.conns(), ...connIds),
        this.redis.zrem(this.keys.connIndex(), ...connIds),
        ...[...byNode].map(([node, ids]) => this.redis.srem(this.keys.nodeConns(node), ...ids)),
        // A connection added meanwhile puts the team back at the next reconcile.
        ...(emptied.size > 0 ? [this.redis.srem(this.keys.liveTeams(), ...emptied)] : []),
      ]);
    } catch (error) {
      return results.map((r) => (r.ok ? { ok: false, error } : r));
    }
    return results;
  }

  private async aliveNodes(): Promise<Set<string>> {
    const nodes = await this.redis.smembers(this.keys.nodes());
    const alive = new Set([this.options.nodeId]);
    if (nodes.length === 0) return alive;
    // One GET per lease, not MGET: on Redis Cluster the leases live in different slots.
    const leases = await Promise.all(nodes.map((n) => this.redis.get(this.keys.lease(n))));
    nodes.forEach((node, i) => {
      if (leases[i] !== null) alive.add(node);
    });
    return alive;
  }

  private async read(connIds: string[], alive: Set<string>): Promise<ConnectionInfo[]> {
    if (connIds.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.conns(), ...connIds);
    const out: ConnectionInfo[] = [];
    for (const text of raw) {
      if (text === null) continue;
      const info = JSON.parse(text) as ConnectionInfo;
      if (alive.has(info.node)) out.push(info);
    }
    return out;
  }

  async get(connId: string): Promise<ConnectionInfo | undefined> {
    return redisCall(async () => {
      const [info] = await this.read([connId], await this.aliveNodes());
      return info;
    });
  }

  async members(teamId: string): Promise<Member[]> {
    return redisCall(async () => {
      const alive = await this.aliveNodes();
      return this.group(
        await this.read(await this.redis.zrange(this.keys.teamConns(teamId), 0, -1), alive),
      );
    });
  }

  private group(conns: ConnectionInfo[]): Member[] {
    const users = new Map<string, Member>();
    for (const c of conns.sort((a, b) => a.connectedAt.localeCompare(b.connectedAt))) {
      const member = users.get(c.userId) ?? { id: c.userId, name: c.name, connections: 0 };
      member.name = c.name;
      member.connections++;
      users.set(c.userId, member);
    }
    return [...users.values()];
  }

  async teams(): Promise<TeamPresence[]> {
    return redisCall(async () => {
      const alive = await this.aliveNodes();
      const teamIds = await this.redis.smembers(this.keys.liveTeams());
      const out: TeamPresence[] = [];
      for (const teamId of teamIds) {
        const members = this.group(
          await this.read(await this.redis.zrange(this.keys.teamConns(teamId), 0, -1), alive),
        );
        if (members.length === 0) continue;
        out.push({
          teamId,
          online: members.length,
          connections: members.reduce((n, m) => n + m.connections, 0),
        });
      }
      return out;
    });
  }

  /**
   * Teams with a connection entry. A dead node's teams count until a survivor
   * sweeps them (one lease): close enough for a chart, and one command.
   */
  async teamCount(): Promise<number> {
    return redisCall(() => this.redis.scard(this.keys.liveTeams()));
  }

  async list(query: ConnectionQuery): Promise<ConnectionPage> {
    return redisCall(async () => {
      const alive = await this.aliveNodes();
      const index =
        query.teamId === undefined ? this.keys.connIndex() : this.keys.teamConns(query.teamId);
      const found: ConnectionInfo[] = [];
      let after = decodeCursor(query.cursor);
      const batch = Math.max(query.limit + 1, 100);
      for (;;) {
        const ids = await this.redis.zrangebylex(
          index,
          after === undefined ? '-' : `(${after}`,
          '+',
          'LIMIT',
          0,
          batch,
        );
        for (const info of await this.read(ids, alive)) {
          if (query.userId !== undefined && info.userId !== query.userId) continue;
          found.push(info);
        }
        if (found.length > query.limit || ids.length < batch) break;
        after = ids[ids.length - 1];
      }
      const connections = found.slice(0, query.limit);
      const next =
        found.length > query.limit
          ? encodeCursor(connections[connections.length - 1]!.connId)
          : null;
      return { connections, next };
    });
  }

  private async tick(reconnected = false): Promise<void> {
    if (this.ticking) {
      if (reconnected) this.tickAgain = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        await this.upkeep();
      } while (this.tickAgain && !this.closed);
    } finally {
      this.ticking = false;
    }
  }

  private async upkeep(): Promise<void> {
    try {
      await this.renew();
      await this.sweep();
    } catch (err) {
      // Redis is down: reads already say so; the next tick tries again.
      this.options.log.debug({ err }, 'presence upkeep failed');
      this.dirty = true;
      this.leaseHeld = false;
    }
  }

  private async renew(): Promise<void> {
    const connection = this.connections;
    const lease = this.keys.lease(this.options.nodeId);
    const kept = await this.redis.set(lease, '1', 'PX', this.options.leaseMs, 'XX');
    // Once a lease period, check our entries anyway: a sweep that raced a renewal, or any
    // other lost write, heals within one lease.
    if (kept === 'OK' && !this.dirty && ++this.renewals % RECONCILE_EVERY !== 0) return;
    this.dirty = true;
    await this.redis.set(lease, '1', 'PX', this.options.leaseMs);
    this.leaseHeld = true;
    await this.sweepOfUsFinished();
    await this.reconcile();
    // The connection closed meanwhile: the Redis answering now may lack what we wrote.
    // Still dirty, so the tick the reconnect asked for reconciles again.
    if (connection === this.connections) this.dirty = false;
  }

  /**
   * A survivor that found our lease lapsed may still be removing our entries and
   * announcing `leave` for them. Now that we hold the lease again it stops at its
   * next entry; until it has released its lock, a `join` we announce for a user
   * it removed could reach teammates before its `leave`, and leave them thinking
   * the user is offline. Our lease is kept alive meanwhile.
   */
  private async sweepOfUsFinished(): Promise<void> {
    const lock = this.keys.cleanupLock(this.options.nodeId);
    for (;;) {
      const ttl = await this.redis.pttl(lock);
      // -2: no sweep; -1 (no expiry) is no lock a sweeper sets, so nothing to wait for.
      if (ttl < 0 || this.closed) return;
      await delay(Math.min(ttl, SWEEP_POLL_MS));
      await this.redis.set(this.keys.lease(this.options.nodeId), '1', 'PX', this.options.leaseMs);
    }
  }

  /**
   * Makes Redis hold exactly this node's live connections again: after a Redis
   * restart, an expired lease (survivors may have removed us), or a failed write.
   */
  private async reconcile(): Promise<void> {
    const stored = new Set(await this.redis.smembers(this.keys.nodeConns(this.options.nodeId)));
    let restored = 0;
    // A team emptied by one node while another joined it may have lost its mark.
    const teams = new Set([...this.local.values()].map((c) => c.teamId));
    if (teams.size > 0) await this.redis.sadd(this.keys.liveTeams(), ...teams);
    // A copy: sockets close while this runs, and a closed one must not come back.
    for (const conn of [...this.local.values()]) {
      if (stored.has(conn.connId) || !this.local.has(conn.connId)) continue;
      const count = await this.addEntry(conn);
      if (count === 0) continue;
      restored++;
      if (!this.local.has(conn.connId)) {
        // It closed meanwhile and its remove may have found nothing: take it back quietly,
        // as its user's presence was never announced again.
        await this.removeEntry(conn, this.options.nodeId);
        continue;
      }
      // The user's only connection in the team again: they had left in everyone's view
      // (a survivor swept us and announced it, or Redis lost all presence). A user
      // with a connection elsewhere never left, and the count says so.
      if (count === 1) await this.announce(conn, 'join');
    }
    for (const connId of stored) {
      if (this.local.has(connId)) continue;
      const text = await this.redis.hget(this.keys.conns(), connId);
      if (text === null) {
        await this.redis.srem(this.keys.nodeConns(this.options.nodeId), connId);
        continue;
      }
      await this.leave(JSON.parse(text) as ConnectionInfo, this.options.nodeId);
    }
    if (restored > 0) this.options.log.info({ restored }, 'presence restored in Redis');
  }

  /** Removes an entry and announces the user's leave if it was their last; false if `node` came back. */
  private async leave(conn: ConnectionInfo, node: string, ifDead = false): Promise<boolean> {
    const left = await this.removeEntry(conn, node, ifDead);
    if (left === -2) return false;
    if (left === 0) await this.announce(conn, 'leave');
    return true;
  }

  private announce(conn: ConnectionInfo, event: 'join' | 'leave'): Promise<void> {
    return this.options.announce(presenceEvent(conn, event));
  }

  /** Removes the entries of nodes whose lease expired; one survivor per dead node does it. */
  private async sweep(): Promise<void> {
    const alive = await this.aliveNodes();
    for (const node of await this.redis.smembers(this.keys.nodes())) {
      if (alive.has(node)) continue;
      const locked = await this.redis.set(
        this.keys.cleanupLock(node),
        this.options.nodeId,
        'PX',
        this.options.leaseMs,
        'NX',
      );
      if (locked !== 'OK') continue;
      // The node, should it wake, waits for this lock before announcing joins: it must
      // outlive every leave we announce, however long the sweep or one publish takes.
      const hold = setInterval(
        () =>
          void this.redis
            .pexpire(this.keys.cleanupLock(node), this.options.leaseMs)
            .catch(() => undefined),
        this.renewEveryMs(),
      );
      hold.unref();
      try {
        await this.sweepNode(node);
      } finally {
        clearInterval(hold);
        await this.unlock(node);
      }
    }
  }

  private async sweepNode(node: string): Promise<void> {
    const connIds = await this.redis.smembers(this.keys.nodeConns(node));
    const raw = connIds.length > 0 ? await this.redis.hmget(this.keys.conns(), ...connIds) : [];
    for (const text of raw) {
      if (text === null) continue;
      // The node may renew its lease while we sweep (a long pause, not a death): stop then.
      if (!(await this.leave(JSON.parse(text) as ConnectionInfo, node, true))) return;
    }
    await this.redis.del(this.keys.nodeConns(node));
    await this.redis.srem(this.keys.nodes(), node);
    this.options.log.warn({ node, connections: connIds.length }, 'cleaned up after a dead node');
  }

  /** Lets a revived node go on at once rather than when the lock expires. */
  private async unlock(node: string): Promise<void> {
    const lock = this.keys.cleanupLock(node);
    try {
      // Not atomic: only a lock that expired and was taken by another survivor
      // between these two commands could be deleted by mistake.
      if ((await this.redis.get(lock)) === this.options.nodeId) await this.redis.del(lock);
    } catch {
      // Redis is down: the lock expires by itself.
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // A clean stop gives its lease back so others do not wait for it to expire.
    try {
      await this.redis.del(this.keys.lease(this.options.nodeId));
    } catch {
      // Redis is down: the lease expires by itself.
    }
  }
}

/** The user's join or leave in the connection's team, as a session announces it. */
function presenceEvent(conn: ConnectionInfo, event: 'join' | 'leave'): ClusterEvent {
  return {
    kind: 'presence',
    teamId: conn.teamId,
    event,
    user: { id: conn.userId, name: conn.name },
  };
}
