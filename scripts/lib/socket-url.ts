/**
 * The socket URL of a local node for a client that resumes: once it has seen an
 * epoch it asks for everything after its last seq in it (docs/PROTOCOL.md §4).
 */
export function resumeUrl(
  port: number,
  client: { id: string; teamId: string; epoch: string | undefined; lastSeq: number },
): string {
  const q = new URLSearchParams({ id: client.id, name: client.id, teamId: client.teamId });
  if (client.epoch !== undefined) {
    q.set('since', String(client.lastSeq));
    q.set('epoch', client.epoch);
  }
  return `ws://127.0.0.1:${port}/socket?${q.toString()}`;
}
