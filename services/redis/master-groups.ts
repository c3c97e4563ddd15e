import type { Cluster, Redis } from 'ioredis';

/**
 * A turn's per-slot groups of a Redis Cluster client, sorted by the master its slot
 * map names for each slot (`cluster.slots`, which ioredis keeps current on MOVED and
 * on every refresh): the groups of a master that serves several of them may go in
 * one call on its connection. A group whose master is unknown or not ready now, or
 * the only one of its master, is left in `alone`, for its slot's own call.
 *
 * The map may be stale: a call for a master checks that each slot is served there
 * (scripts.ts, GROUPED_LUA), so a wrong guess costs a redirected slot call, never a
 * write in the wrong place.
 */
export function byMaster<T>(
  cluster: Cluster,
  groups: Iterable<[slot: number, group: T]>,
): { masters: Map<Redis, T[]>; alone: T[] } {
  const ready = new Map<string, Redis>();
  for (const node of cluster.nodes('master')) {
    // Undefined until the client first connects, whatever its typing says.
    const stream = node.stream as typeof node.stream | undefined;
    if (node.status === 'ready' && stream?.writable === true)
      ready.set(`${node.options.host}:${node.options.port}`, node);
  }
  const masters = new Map<Redis, T[]>();
  const alone: T[] = [];
  for (const [slot, group] of groups) {
    const key = cluster.slots[slot]?.[0];
    const node = key === undefined ? undefined : ready.get(key);
    if (!node) {
      alone.push(group);
      continue;
    }
    const mine = masters.get(node);
    if (mine) mine.push(group);
    else masters.set(node, [group]);
  }
  for (const [node, mine] of masters) {
    if (mine.length > 1) continue;
    masters.delete(node);
    alone.push(...mine);
  }
  return { masters, alone };
}
