import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ParameterizedContext } from 'koa';
import { AppError } from '../services/errors';
import type { ApiRouter } from './api-deps';

/**
 * The admin page, the demo chat and the browser client, served from a fixed list
 * of files: a URL never becomes a file path, so nothing outside the list can be read.
 */

const ASSETS = [
  'admin.css',
  'admin.js',
  'charts.js',
  'demo.css',
  'demo.js',
  'common.css',
  'common.js',
  'favicon.svg',
] as const;

/** The example chat page (examples/browser), served so that it runs on the server's origin. */
const EXAMPLE_DIR = '/examples/browser';
const EXAMPLE_PAGE = '/examples/browser/';
const EXAMPLE_SCRIPT = '/examples/browser/chat.js';

/** Public paths, for the admin-auth allow list: pages and assets need no token. */
export const STATIC_PATHS: readonly string[] = [
  '/',
  '/admin',
  '/client/switchboard.js',
  EXAMPLE_DIR,
  EXAMPLE_PAGE,
  EXAMPLE_SCRIPT,
  ...ASSETS.map((name) => `/assets/${name}`),
];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Pages load scripts, styles and images from this origin only, and open sockets to
 * it (`ws:`/`wss:` because `'self'` does not cover WebSocket schemes in every browser).
 */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The checkout root: the folder above this file (ts-jest) or above dist/ (compiled). */
function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
  return dir;
}

export interface StaticOptions {
  /** Folder holding public/ and client/dist/; found from this file by default. */
  root?: string;
}

export function staticRoutes(router: ApiRouter, options: StaticOptions = {}): void {
  const root = options.root ?? findRoot(__dirname);
  const pub = join(root, 'public');

  router.get('/', (ctx) => serve(ctx, join(pub, 'index.html'), { page: true }));
  router.get('/admin', (ctx) => serve(ctx, join(pub, 'admin.html'), { page: true }));
  router.get('/client/switchboard.js', (ctx) =>
    serve(ctx, join(root, 'client', 'dist', 'client', 'switchboard-client.js'), {
      // Pages on other origins may import the module too (module scripts need CORS).
      crossOrigin: true,
      missing: new AppError(
        'unavailable',
        'the client library is not built; run `npm run build:client`',
      ),
    }),
  );
  const example = join(root, 'examples', 'browser');
  router.get(EXAMPLE_PAGE, (ctx) => serve(ctx, join(example, 'index.html'), { page: true }));
  // Without the slash, the page's relative `chat.js` would resolve to /examples/chat.js.
  router.get(EXAMPLE_DIR, (ctx) => ctx.redirect(EXAMPLE_PAGE));
  router.get(EXAMPLE_SCRIPT, (ctx) => serve(ctx, join(example, 'chat.js')));
  for (const name of ASSETS) {
    router.get(`/assets/${name}`, (ctx) => serve(ctx, join(pub, 'assets', name)));
  }
}

async function serve(
  ctx: ParameterizedContext,
  file: string,
  options: { page?: boolean; crossOrigin?: boolean; missing?: AppError } = {},
): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile())
    throw options.missing ?? new AppError('not_found', `no file for ${ctx.path}`);
  ctx.set('X-Content-Type-Options', 'nosniff');
  // Names carry no content hash, so browsers revalidate (cheap: 304 on the ETag).
  ctx.set('Cache-Control', 'no-cache');
  if (options.crossOrigin) {
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
  }
  if (options.page) {
    ctx.set('Content-Security-Policy', PAGE_CSP);
    ctx.set('Referrer-Policy', 'no-referrer');
  }
  ctx.status = 200;
  ctx.etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  ctx.lastModified = info.mtime;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
  ctx.body = await readFile(file);
}
