import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig, type Config } from '../../app/config';
import { createApp, type SwitchboardApp } from '../../app/create-app';
import type { Engine } from '../../app/engine';
import { createEngine } from '../../app/create-engine';
import { startServer, type RunningServer } from '../../app/start-server';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestServer {
  app: SwitchboardApp;
  running: RunningServer;
  config: Config;
  port: number;
  /** http://127.0.0.1:port */
  http: string;
  /** ws://127.0.0.1:port/socket */
  socketUrl: string;
  /** Every log line the server wrote, as text. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * A real server on a free port with the embedded engine. `env` takes the same
 * variables as production, so tests exercise the config parser too.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  engine?: (config: Config) => Engine | Promise<Engine>,
): Promise<TestServer> {
  const shared = (globalThis as { __sbUseRedis?: boolean }).__sbUseRedis
    ? process.env['SB_TEST_REDIS_URL']
    : undefined;
  const ownRedis = env['REDIS_URL'] !== undefined || env['REDIS_SENTINELS'] !== undefined;
  if (shared !== undefined && engine === undefined && !ownRedis) {
    // The "redis" jest project: same suite, Redis engine, state isolated by key prefix.
    env = { REDIS_URL: shared, REDIS_KEY_PREFIX: `t${randomUUID().slice(0, 8)}:`, ...env };
  }
  const config = loadConfig({
    ADMIN_TOKEN,
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ID: 'test-node',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: env['LOG_LEVEL'] ?? 'info' }, sink);
  const app = createApp({
    config,
    logger,
    engine: engine ? await engine(config) : await createEngine(config, logger),
  });
  const running = await startServer(app, 0, '127.0.0.1');
  return {
    app,
    running,
    config,
    port: running.port,
    http: `http://127.0.0.1:${running.port}`,
    socketUrl: `ws://127.0.0.1:${running.port}/socket`,
    logs,
    close: () => running.close(),
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A real HTTP request to the admin API; JSON in and out. */
export async function api<T = Record<string, unknown>>(
  server: { http: string },
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string;
    token?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && headers['content-type'] === undefined)
    headers['content-type'] = 'application/json';
  const res = await fetch(`${server.http}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('application/json') && text.length > 0) {
    parsed = JSON.parse(text);
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}
