/**
 * GET /api/openapi.json against the router and a real server, on both engines:
 * every route the router holds is in the document (and nothing else is), and every
 * answer a real request gets matches the schema the document declares for it.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { z } from 'zod';
import { createEngine } from '../../app/create-engine';
import type { Engine } from '../../app/engine';
import { openApiDocument, apiPaths } from '../../routes/openapi';
import { STATIC_PATHS } from '../../routes/static';
import { connect, type TestClient } from '../helpers/client';
import { api, startTestServer, type ApiResponse, type TestServer } from '../helpers/server';

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

interface RenderedDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

let server: TestServer;
let engine: Engine;
const clients: TestClient[] = [];

/** The Redis project's engine, when this file runs in it (startTestServer skips it for a custom engine). */
function engineEnv(): Record<string, string> {
  const url = process.env['SB_TEST_REDIS_URL'];
  const redis = (globalThis as { __sbUseRedis?: boolean }).__sbUseRedis === true;
  return redis && url !== undefined
    ? { REDIS_URL: url, REDIS_KEY_PREFIX: `o${randomUUID().slice(0, 8)}:` }
    : {};
}

beforeAll(async () => {
  server = await startTestServer({ ...engineEnv(), LOG_LEVEL: 'silent' }, async (config) => {
    engine = await createEngine(config, pino({ level: 'silent' }));
    return engine;
  });
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

/** `/api/teams/:teamId` as OpenAPI spells it. */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

function routerOperations(): string[] {
  const ops = new Set<string>();
  for (const layer of server.app.router.stack) {
    const path = String(layer.path);
    if (STATIC_PATHS.includes(path)) continue;
    for (const method of layer.methods) {
      // HEAD comes with every GET; the document lists the GET.
      if (method !== 'HEAD') ops.add(`${method} ${openApiPath(path)}`);
    }
  }
  return [...ops].sort();
}

function documentOperations(doc: RenderedDocument): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe('the document', () => {
  it('is served as OpenAPI 3.1 JSON with the admin token, and refused without it', async () => {
    const res = await api<RenderedDocument>(server, 'GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.openapi).toBe('3.1.0');
    expect((await api(server, 'GET', '/api/openapi.json', { token: null })).status).toBe(401);
  });

  it('holds every route of the router, and no route the router lacks', async () => {
    const res = await api<RenderedDocument>(server, 'GET', '/api/openapi.json');
    const fromRouter = routerOperations();
    expect(fromRouter).toContain('PATCH /api/teams/{teamId}');
    expect(documentOperations(res.body)).toEqual(fromRouter);
  });

  it('is generated from the request schemas: the id rule is the validator’s own pattern', async () => {
    const doc = openApiDocument() as unknown as {
      paths: Record<
        string,
        Record<string, { requestBody: { content: Record<string, { schema: unknown }> } }>
      >;
    };
    const schema = doc.paths['/api/teams']!['post']!.requestBody.content['application/json']!
      .schema as { properties: { id: { pattern: string } }; required: string[] };
    expect(schema.required).toEqual(['id', 'name']);
    expect(new RegExp(schema.properties.id.pattern).test('team-a')).toBe(true);
    expect(new RegExp(schema.properties.id.pattern).test('team a')).toBe(false);
  });
});

describe('real answers match the declared schemas', () => {
  const paths = apiPaths();
  const exercised = new Set<string>();

  /** The schema the document declares for this operation and status; fails when undeclared. */
  function declared(path: string, method: Method, status: number): z.ZodType | undefined {
    const operation = paths[path]?.[method];
    if (!operation) throw new Error(`${method} ${path} is not in the document`);
    const response = operation.responses?.[String(status) as '200'];
    if (response === undefined)
      throw new Error(`${method.toUpperCase()} ${path} answered ${status}, not declared`);
    if ('$ref' in response) throw new Error('unexpected $ref');
    const content = response.content ?? {};
    const media = Object.values(content)[0];
    return media?.schema as z.ZodType | undefined;
  }

  async function call<T = unknown>(
    method: Method,
    path: string,
    url: string,
    options: Parameters<typeof api>[3] = {},
  ): Promise<ApiResponse<T>> {
    const res = await api<T>(server, method.toUpperCase(), url, options);
    const schema = declared(path, method, res.status);
    if (schema === undefined) {
      expect(res.body).toBe('');
    } else {
      const parsed = schema.safeParse(res.body);
      if (!parsed.success)
        throw new Error(
          `${method.toUpperCase()} ${url} ${res.status}: ${JSON.stringify(parsed.error.issues)}\n${JSON.stringify(res.body)}`,
        );
    }
    if (res.status < 300) exercised.add(`${method.toUpperCase()} ${path}`);
    return res;
  }

  it('for every operation, success and refusals alike', async () => {
    const team = `t-${randomUUID().slice(0, 8)}`;
    await call('get', '/api/health', '/api/health', { token: null });
    await call('get', '/api/ready', '/api/ready', { token: null });
    await call('get', '/api/openapi.json', '/api/openapi.json');
    await call('get', '/api/openapi.json', '/api/openapi.json', { token: null });

    await call('post', '/api/teams', '/api/teams', { body: { id: team, name: '团队' } });
    await call('post', '/api/teams', '/api/teams', { body: { id: team, name: 'again' } });
    await call('post', '/api/teams', '/api/teams', { body: {} });
    await call('post', '/api/teams', '/api/teams', {
      rawBody: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    await call('post', '/api/teams', '/api/teams', {
      body: { id: 'big', name: 'x', pad: 'x'.repeat(300_000) },
    });

    const alice = await connect(server.socketUrl, { id: 'alice', teamId: team });
    const bob = await connect(server.socketUrl, { id: 'bob', teamId: 'live-only' });
    clients.push(alice, bob);

    await call('get', '/api/teams', '/api/teams');
    await call('get', '/api/teams/{teamId}', `/api/teams/${team}`);
    await call('get', '/api/teams/{teamId}', '/api/teams/live-only');
    await call('get', '/api/teams/{teamId}', '/api/teams/nobody');
    await call('get', '/api/teams/{teamId}', '/api/teams/bad%20id');
    await call('patch', '/api/teams/{teamId}', `/api/teams/${team}`, { body: { name: 'New' } });
    await call('patch', '/api/teams/{teamId}', '/api/teams/live-only', { body: { name: 'Live' } });
    await call('patch', '/api/teams/{teamId}', '/api/teams/nobody', { body: { name: 'X' } });

    const messages = '/api/teams/{teamId}/messages';
    await call('post', messages, `/api/teams/${team}/messages`, { body: { data: { n: 1 } } });
    await call('post', messages, `/api/teams/${team}/messages`, {
      body: { data: 'to alice', to: 'alice', from: { id: 'bot', name: 'Bot' } },
    });
    await call('post', messages, `/api/teams/${team}/messages`, { body: { to: 'alice' } });
    await call('post', messages, '/api/teams/nobody/messages', { body: { data: 1 } });
    await call('get', messages, `/api/teams/${team}/messages`);
    await call('get', messages, `/api/teams/${team}/messages?limit=1&before=2`);
    await call('get', messages, `/api/teams/${team}/messages?limit=x`);
    await call('get', messages, '/api/teams/nobody/messages');
    await call('post', '/api/broadcast', '/api/broadcast', { body: { data: 'all' } });
    await call('post', '/api/broadcast', '/api/broadcast', { body: {} });

    const page = await call<{ next: string }>(
      'get',
      '/api/connections',
      '/api/connections?limit=1',
    );
    await call('get', '/api/connections', `/api/connections?limit=1&cursor=${page.body.next}`);
    await call('get', '/api/connections', '/api/connections?cursor=!!');
    const conn = '/api/connections/{connId}';
    await call('delete', conn, `/api/connections/${String(bob.welcome['connId'])}`);
    await call('delete', conn, '/api/connections/nope');

    await engine.deadLetters.add([
      {
        message: {
          id: randomUUID(),
          seq: 1,
          teamId: team,
          from: { id: 'alice', name: 'Alice' },
          data: 'poison',
          ts: Date.now(),
          epoch: 'e1',
        },
        error: '2628: String or binary data would be truncated',
      },
    ]);
    const letters = await call<{ deadLetters: { id: string }[] }>(
      'get',
      '/api/dead-letters',
      '/api/dead-letters',
    );
    await call('get', '/api/dead-letters', '/api/dead-letters?cursor=x');
    const letter = '/api/dead-letters/{id}';
    await call('delete', letter, `/api/dead-letters/${letters.body.deadLetters[0]!.id}`);
    await call('delete', letter, '/api/dead-letters/nope');

    await call('post', '/api/bans', '/api/bans', {
      body: { userId: 'carol', teamId: team, seconds: 60, reason: 'spam' },
    });
    await call('post', '/api/bans', '/api/bans', { body: { userId: 'dave', seconds: 0 } });
    await call('post', '/api/bans', '/api/bans', { body: { userId: 'bad id' } });
    await call('get', '/api/bans', '/api/bans');
    const lift = '/api/bans/{userId}';
    await call('delete', lift, `/api/bans/carol?teamId=${team}`);
    await call('delete', lift, '/api/bans/dave');
    await call('delete', lift, '/api/bans/nobody');
    await call('get', '/api/stats', '/api/stats');

    await call('get', '/metrics', '/metrics');
    await call('get', '/metrics', '/metrics', { token: null });
    await call('get', '/socket', '/socket', { token: null });

    // Every operation but the refusal-only /socket was seen answering with success.
    const all = Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item ?? {}).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(all.filter((op) => !exercised.has(op))).toEqual(['GET /socket']);
  });
});
