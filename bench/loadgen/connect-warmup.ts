import { FrameKind, type Protocol } from './protocol';
import { startRamp } from './ramp';
import { WsClient, type ClientHandler } from './ws-client';

export interface WarmupPlan {
  connections: number;
  teamSize: number;
  concurrency: number;
  /** Warm-up connections alternate between the arm's ports, as the measured ones split. */
  ports: number[];
}

/**
 * Opens `connections` throwaway connections in teams of their own (ids and teams
 * prefixed `w`), waits until each is ready by its protocol's frame, and closes them
 * all. A server process compiles its connect path (V8's optimizing compiler) while
 * it takes its first connections: about 0.4-0.5 s of CPU per Node process, which a
 * 5,000-connection phase would otherwise spread as 80-100 µs over each connection
 * (twice on the two-node arms). The connect phase measures a running server, as a
 * deployed one is; the reconnect storm measures a cold start on its own.
 */
export async function warmConnectPath(plan: WarmupPlan, protocol: Protocol): Promise<void> {
  if (plan.connections <= 0) return;
  const clients: WsClient[] = [];
  const ready = new Set<WsClient>();
  const handler: ClientHandler = {
    opened: () => undefined,
    frame(client, buf, start, end) {
      if (protocol.classify(client, buf, start, end) !== FrameKind.ready) return;
      if (ready.has(client)) return;
      ready.add(client);
      ramp.settled();
    },
    closed(_client, reason) {
      ramp.fail(new Error(`a warm-up connection failed: ${reason}`));
    },
  };
  // The handler's calls come from socket events, after this has returned.
  const ramp = startRamp({
    count: plan.connections,
    concurrency: plan.concurrency,
    timeoutMs: Math.max(60_000, plan.connections * 50),
    open: (i) => {
      const client = new WsClient(i, handler);
      clients.push(client);
      const team = Math.floor(i / plan.teamSize);
      client.open(
        plan.ports[i % plan.ports.length] ?? 0,
        protocol.path({ id: `w${i}`, name: `warm-up ${i}`, teamId: `w${team}` }),
      );
    },
    timedOut: (settled) => new Error(`warm-up: only ${settled}/${plan.connections} ready in time`),
  });
  try {
    await ramp.done;
  } finally {
    for (const client of clients) client.close();
  }
}
