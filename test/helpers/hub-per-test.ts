import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { createMetrics } from '../../services/metrics';
import { Hub, LocalConnection, type HubOptions } from '../../services/socket/hub';
import type { Delivery } from '../../services/bus';
import type { ConnectionInfo } from '../../services/types';

/**
 * For hub unit tests on real sockets: a ws server on port 0 and a hub, fresh for
 * each test, and ws clients whose accepted sockets join the hub. The clients are
 * terminated and the server closed after each test.
 */
export function hubPerTest(options: Partial<HubOptions> = {}): HubPerTest {
  const rig = new HubPerTest(options);
  beforeEach(() => rig.start());
  afterEach(() => rig.stop());
  return rig;
}

export class HubPerTest {
  private wss: WebSocketServer | undefined;
  private current: Hub | undefined;
  private readonly clients: WebSocket[] = [];

  constructor(private readonly options: Partial<HubOptions>) {}

  get hub(): Hub {
    if (!this.current) throw new Error('no hub outside a test');
    return this.current;
  }

  /** Connections made in this test so far. */
  get count(): number {
    return this.clients.length;
  }

  async start(): Promise<void> {
    this.wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(this.wss, 'listening');
    this.current = new Hub({
      maxBufferedBytes: 1 << 20,
      heartbeatMs: 60_000,
      presenceWindowMs: 0,
      metrics: createMetrics(),
      log: pino({ level: 'silent' }),
      ...this.options,
    });
  }

  async stop(): Promise<void> {
    for (const c of this.clients.splice(0)) c.terminate();
    const wss = this.wss;
    this.wss = undefined;
    this.current = undefined;
    if (wss) await new Promise((resolve) => wss.close(resolve));
  }

  /**
   * Opens a client and adds the server's side of it to the hub as a connection
   * described by `info`. Listeners put on `client` as soon as this resolves miss
   * nothing: what the hub writes reaches the client in a later I/O turn.
   */
  async join(
    info: Pick<ConnectionInfo, 'connId' | 'userId' | 'teamId'>,
  ): Promise<{ conn: LocalConnection; client: WebSocket }> {
    if (!this.wss) throw new Error('no server outside a test');
    const { port } = this.wss.address() as AddressInfo;
    const accepted = once(this.wss, 'connection') as Promise<[WebSocket]>;
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    this.clients.push(client);
    const [socket] = await accepted;
    const conn = new LocalConnection(
      {
        ...info,
        name: info.userId,
        node: 'n',
        ip: '127.0.0.1',
        connectedAt: new Date().toISOString(),
      },
      socket,
      undefined,
    );
    this.hub.add(conn);
    return { conn, client };
  }
}

/** A team message from `sender` as the bus hands it to the hub; `fields` go into its frame. */
export function teamDelivery(
  teamId: string,
  epoch: string,
  seq: number,
  fields: Record<string, unknown> = {},
  extra: Partial<Delivery> = {},
): Delivery {
  return {
    teamId,
    epoch,
    seq,
    origin: undefined,
    to: undefined,
    fromId: 'sender',
    frame: JSON.stringify({ type: 'message', seq, ...fields }),
    ...extra,
  };
}
