import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Router from '@koa/router';
import Koa from 'koa';
import pino from 'pino';
import type { AppState } from '../../middleware/app-state';
import { errorMapper } from '../../middleware/error-mapper';
import { staticRoutes } from '../../routes/static';
import { startTestServer, type TestServer } from '../helpers/server';
import { buildClientOnce } from '../helpers/build-client';

/** What the pages, assets and the client module are served with; no browser needed. */
let server: TestServer;

beforeAll(async () => {
  buildClientOnce();
  server = await startTestServer();
}, 30_000);

afterAll(async () => {
  await server.close();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.http}${path}`, { headers });

test('the pages need no token and carry a same-origin Content-Security-Policy', async () => {
  for (const path of ['/', '/admin']) {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self' ws: wss:");
    expect(csp).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<script type="module"');
  }
});

test('the client module and the assets are served with their types and revalidate by ETag', async () => {
  const client = await get('/client/switchboard.js');
  expect(client.status).toBe(200);
  expect(client.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  expect(client.headers.get('access-control-allow-origin')).toBe('*');
  const text = await client.text();
  expect(text).toContain('export class SwitchboardClient');
  // One file, one request: the shared protocol types (protocol/) leave no import behind.
  expect(text).not.toMatch(/^\s*(import|export)\b[^;]*\bfrom\s*['"]/m);

  const css = await get('/assets/common.css');
  expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  const js = await get('/assets/admin.js');
  expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  const etag = js.headers.get('etag');
  expect(etag).toBeTruthy();
  // As a browser revalidates (fetch() would add `no-cache` to a conditional request).
  const again = await get('/assets/admin.js', {
    'if-none-match': etag!,
    'cache-control': 'max-age=0',
  });
  expect(again.status).toBe(304);
});

test('only the listed files are public; anything else still needs the admin token', async () => {
  for (const path of [
    '/assets/nope.js',
    '/assets/../package.json',
    '/assets/..%2fpackage.json',
    '/client/protocol.js',
    '/protocol/frames.js',
    '/index.html',
    '/admin/',
  ]) {
    const res = await get(path);
    expect([path, res.status]).toEqual([path, 401]);
  }
});

test('without a built client the module route says so with 503', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sb-static-'));
  const koa = new Koa<AppState>();
  const log = pino({ level: 'silent' });
  koa.use(async (ctx, next) => {
    ctx.state.log = log;
    await next();
  });
  koa.use(errorMapper());
  const router = new Router<AppState>();
  staticRoutes(router, { root });
  koa.use(router.routes());
  const http: Server = koa.listen(0, '127.0.0.1');
  try {
    await new Promise((resolve) => http.once('listening', resolve));
    const { port } = http.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/client/switchboard.js`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: {
        code: 'unavailable',
        message: 'the client library is not built; run `npm run build:client`',
      },
    });
  } finally {
    await new Promise((resolve) => http.close(resolve));
    rmSync(root, { recursive: true, force: true });
  }
});
