import { randomUUID } from 'node:crypto';
import { connect, type Frame, type TestClient } from './client';
import { startTestServer, type TestServer } from './server';

/** What the senders of a failover test saw. */
export interface SendTally {
  /** ref → where its ack said it was stored. */
  acked: Map<string, { team: string; id: string; seq: number }>;
  /** Error code → how many sends got it. */
  errors: Map<string, number>;
  /** Acks per sender counted after the failover was complete (and the old master back). */
  ackedAfter: number[];
  reconnects: number;
}

export function newSendTally(): SendTally {
  return { acked: new Map(), errors: new Map(), ackedAfter: [], reconnects: 0 };
}

/**
 * One sender of a failover test: sends a team message with a fresh ref, waits for its
 * answer, sends the next, reconnecting when its socket goes. Unacked messages are not
 * retried: only acks are checked afterwards.
 */
export async function sendUntilStopped(
  server: TestServer,
  index: number,
  team: string,
  tally: SendTally,
  phase: { after: boolean; stop: boolean },
): Promise<void> {
  let client: TestClient | undefined;
  let n = 0;
  while (!phase.stop) {
    if (!client || client.closed) {
      try {
        client = await connect(server.socketUrl, { id: `s${index}`, teamId: team });
      } catch {
        tally.reconnects++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
    }
    const ref = `s${index}-${n++}`;
    const after = phase.after;
    client.send({ type: 'team', data: ref, ref });
    let answer: Frame;
    try {
      // Teammates' messages and presence frames arrive between the answers.
      do answer = await client.next(undefined, 15_000);
      while (answer.type !== 'ack' && answer.type !== 'error');
    } catch {
      tally.reconnects++;
      client = undefined;
      continue;
    }
    expect(answer['ref']).toBe(ref);
    if (answer.type === 'ack') {
      tally.acked.set(ref, { team, id: String(answer['id']), seq: Number(answer['seq']) });
      if (after) tally.ackedAfter[index] = (tally.ackedAfter[index] ?? 0) + 1;
    } else {
      const code = String(answer['code']);
      tally.errors.set(code, (tally.errors.get(code) ?? 0) + 1);
      // As a client would: back off a little before the next message.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  await client?.close();
}

/**
 * The two nodes of a failover test, node-a and node-b, in this process, reaching Redis
 * as `redis` says (with its LOG_LEVEL), under a key prefix of their own: a send is
 * acked once `ackReplicas` replicas hold it (500 ms at most), a command times out
 * after 2 s, nothing is rate limited and the history keeps every send.
 */
export async function startFailoverNodes(
  redis: Record<string, string>,
  ackReplicas: number,
): Promise<{ nodes: TestServer[]; prefix: string }> {
  const prefix = `f${randomUUID().slice(0, 6)}:`;
  const env = {
    ...redis,
    REDIS_KEY_PREFIX: prefix,
    REDIS_ACK_REPLICAS: String(ackReplicas),
    REDIS_ACK_TIMEOUT_MS: '500',
    REDIS_COMMAND_TIMEOUT_MS: '2000',
    RATE_LIMIT_PER_S: '0',
    HISTORY_SIZE: '1000000',
  };
  const nodes = [
    await startTestServer({ ...env, NODE_ID: 'node-a' }),
    await startTestServer({ ...env, NODE_ID: 'node-b' }),
  ];
  return { nodes, prefix };
}
