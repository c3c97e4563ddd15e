import type { TestClient } from './client';
import { eventually } from './eventually';

/**
 * Sends probes until one is acked: with replicated acks a replica's first sync takes
 * a moment, and until then probes are answered with an error.
 */
export async function untilAcked(client: TestClient): Promise<void> {
  await eventually(async () => {
    client.send({ type: 'team', data: 'probe' });
    // Teammates' messages and presence frames come between the answers.
    let answer = await client.next();
    while (answer.type !== 'ack' && answer.type !== 'error') answer = await client.next();
    return answer.type === 'ack';
  }, 15_000);
}
