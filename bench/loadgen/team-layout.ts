import { teamSizes } from './team-sizes';

/**
 * Which teams each connection follows. With one team per connection, connections are
 * dealt out `teamSize` to a team in order (the default scenarios). With `teamsPerConnection`
 * above one, each further layer deals the connections out again in a shuffled order into
 * teams of their own, so teams of `teamSize` members overlap the way real ones do instead
 * of repeating the home teams' membership; a connection's teams are all distinct because
 * each layer has its own team numbers.
 */
export interface TeamLayout {
  /** Members of each team, by team number. */
  sizes: number[];
  /** Each connection's teams, its home team (layer 0) first. */
  teamsOf: number[][];
  /** Each team's members in dealing order (connection indexes). */
  members: number[][];
}

/** mulberry32: a seeded generator, so every arm and round gets the same layout. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function teamLayout(
  connections: number,
  teamSize: number,
  teamsPerConnection: number,
): TeamLayout {
  const perLayer = teamSizes(connections, teamSize);
  const sizes: number[] = [];
  const members: number[][] = [];
  const teamsOf: number[][] = Array.from({ length: connections }, () => []);
  const random = seeded(16);
  for (let layer = 0; layer < teamsPerConnection; layer++) {
    const order = Array.from({ length: connections }, (_, i) => i);
    if (layer > 0) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const base = layer * perLayer.length;
    for (const size of perLayer) {
      sizes.push(size);
      members.push([]);
    }
    order.forEach((conn, position) => {
      const team = base + Math.floor(position / teamSize);
      teamsOf[conn].push(team);
      members[team].push(conn);
    });
  }
  return { sizes, teamsOf, members };
}
