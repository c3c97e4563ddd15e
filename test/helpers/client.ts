import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

export interface ConnectParams {
  id: string;
  name?: string;
  teamId: string;
  since?: number;
  epoch?: string;
  token?: string;
}

export function socketUrl(base: string, params: ConnectParams): string {
  const q = new URLSearchParams({
    id: params.id,
    name: params.name ?? params.id,
    teamId: params.teamId,
  });
  if (params.since !== undefined) q.set('since', String(params.since));
  if (params.epoch !== undefined) q.set('epoch', params.epoch);
  if (params.token !== undefined) q.set('token', params.token);
  return `${base}?${q.toString()}`;
}

/**
 * A real WebSocket client that records every frame, so tests can wait for the
 * next frame of a type without racing the socket.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | undefined;
  private closeWaiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      this.frames.push(JSON.parse(text) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
      for (const w of this.closeWaiters.splice(0)) w();
    });
    ws.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get welcome(): Frame {
    const w = this.frames[0];
    if (!w || w.type !== 'welcome') throw new Error('no welcome yet');
    return w;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next unread frame (of `type`, skipping others when given). */
  async next(type?: string, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const frame = this.frames[this.cursor++]!;
        if (type === undefined || frame.type === type) return frame;
      }
      if (this.closed)
        throw new Error(
          `socket closed (${this.closed.code}) while waiting for ${type ?? 'a frame'}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${type ?? 'a frame'}; got ${JSON.stringify(this.frames)}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Unread frames of a type, consumed. */
  take(type: string): Frame[] {
    const out: Frame[] = [];
    const rest: Frame[] = [];
    for (const frame of this.frames.slice(this.cursor))
      (frame.type === type ? out : rest).push(frame);
    this.frames.splice(this.cursor, this.frames.length - this.cursor, ...rest);
    return out;
  }

  /**
   * Round trip through the server: every frame the server wrote to this socket
   * before answering the ping has arrived once this resolves. Used to assert that
   * something did NOT arrive without sleeping.
   */
  async sync(): Promise<void> {
    this.send({ type: 'ping' });
    await this.next('pong');
  }

  /** Unread frames, consumed. */
  drain(): Frame[] {
    const out = this.frames.slice(this.cursor);
    this.cursor = this.frames.length;
    return out;
  }

  async waitClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    if (!this.closed) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
        this.closeWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed!;
  }

  close(): Promise<{ code: number; reason: string }> {
    if (!this.closed) this.ws.close();
    return this.waitClose();
  }
}

/** Connects and waits for the welcome frame. */
export async function connect(
  base: string,
  params: ConnectParams,
  options: WebSocket.ClientOptions = {},
): Promise<TestClient> {
  const ws = new WebSocket(socketUrl(base, params), options);
  const client = new TestClient(ws);
  await client.next('welcome');
  return client;
}

/** The HTTP status a refused upgrade answered with, and its body. */
export function refusedHandshake(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('handshake was accepted'));
    });
    ws.on('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** Sends a team message per item, then waits for every ack: all of them are stored. */
export async function sendAll(client: TestClient, data: unknown[]): Promise<Frame[]> {
  for (const d of data) client.send({ type: 'team', data: d });
  const acks: Frame[] = [];
  for (let i = 0; i < data.length; i++) acks.push(await client.next('ack'));
  return acks;
}
