/**
 * How many members each team has when `connections` are dealt out `teamSize` to a
 * team in order: every team full but the last, which takes what is left.
 */
export function teamSizes(connections: number, teamSize: number): number[] {
  const teams = Math.ceil(connections / teamSize);
  return Array.from({ length: teams }, (_, t) => Math.min(teamSize, connections - t * teamSize));
}
