import pino from 'pino';
import WebSocket from 'ws';
import { loadConfig } from '../../app/config';
import { createApp } from '../../app/create-app';
import { createEngine } from '../../app/create-engine';
import { startServer } from '../../app/start-server';
import {
  SwitchboardClient,
  type ClientEvents,
  type CloseInfo,
  type EpochChange,
  type Message,
  type PresenceEvent,
  type Resumed,
  type SwitchboardError,
  type SwitchboardOptions,
  type Welcome,
} from '../../client/switchboard-client';
import { eventually } from '../helpers/eventually';
import { ADMIN_TOKEN } from '../helpers/server';

/** A client under test and everything it told its listeners, in order. */
export interface Recorded<T> {
  client: SwitchboardClient<T>;
  opens: Welcome[];
  messages: Message<T>[];
  presence: PresenceEvent[];
  resumed: Resumed[];
  epochs: EpochChange[];
  closes: CloseInfo[];
  errors: SwitchboardError[];
  /** Every event name as it fired, for order checks. */
  log: (keyof ClientEvents<T>)[];
}

const live: SwitchboardClient<unknown>[] = [];

/**
 * A Node client (ws's WebSocket) with fast reconnects, recording its events.
 * Tests close them all with `closeClients()`.
 */
export function record<T = unknown>(
  url: string,
  options: Partial<SwitchboardOptions> & { id: string; teamId: string },
): Recorded<T> {
  const client = new SwitchboardClient<T>({
    url,
    name: options.id,
    WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  live.push(client as SwitchboardClient<unknown>);
  const rec: Recorded<T> = {
    client,
    opens: [],
    messages: [],
    presence: [],
    resumed: [],
    epochs: [],
    closes: [],
    errors: [],
    log: [],
  };
  client.on('open', (w) => rec.opens.push(w));
  client.on('message', (m) => rec.messages.push(m));
  client.on('presence', (p) => rec.presence.push(p));
  client.on('resumed', (r) => rec.resumed.push(r));
  client.on('epoch', (e) => rec.epochs.push(e));
  client.on('close', (c) => rec.closes.push(c));
  client.on('error', (e) => rec.errors.push(e));
  for (const name of [
    'open',
    'message',
    'presence',
    'resumed',
    'epoch',
    'close',
    'reconnecting',
  ] as const) {
    client.on(name, () => rec.log.push(name));
  }
  return rec;
}

export function closeClients(): void {
  for (const client of live.splice(0)) client.close();
}

/** Waits until `check` holds; for state that other parties change. */
export function until(check: () => boolean, timeoutMs = 8000): Promise<true> {
  return eventually(() => check() || false, timeoutMs);
}

export interface Node {
  port: number;
  http: string;
  socketUrl: string;
  close(): Promise<void>;
}

/**
 * A real server on a given port (0 = any), so a test can stop it and start another
 * where clients expect it: a server restart as clients see it.
 */
export async function startNode(port: number, env: Record<string, string> = {}): Promise<Node> {
  const config = loadConfig({
    ADMIN_TOKEN,
    HOST: '127.0.0.1',
    PORT: String(port),
    NODE_ID: 'client-test',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const logger = pino({ level: 'silent' });
  const engine = await createEngine(config, logger);
  const app = createApp({ config, logger, engine });
  const running = await startServer(app, port, '127.0.0.1');
  return {
    port: running.port,
    http: `http://127.0.0.1:${running.port}`,
    socketUrl: `ws://127.0.0.1:${running.port}/socket`,
    close: () => running.close(),
  };
}
