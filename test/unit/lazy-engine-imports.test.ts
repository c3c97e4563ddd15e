import { sep } from 'node:path';
import { freePort } from '../helpers/redis-server';
import type * as ServerHelpers from '../helpers/server';

/**
 * `mssql` (with tedious) costs a start about 300 ms and `ioredis` about 150 ms; a
 * node that does not use them must not load them, so a restarted node is ready sooner. Each case starts the
 * whole server in a fresh module registry and looks at what was required.
 */
async function loadedByStart(env: Record<string, string>): Promise<string[]> {
  // Not jest.isolateModules: require.cache shows only the main registry, so reset that.
  jest.resetModules();
  const helpers = jest.requireActual<typeof ServerHelpers>('../helpers/server');
  const server = await helpers.startTestServer({ LOG_LEVEL: 'silent', ...env });
  try {
    const loaded = Object.keys(require.cache);
    return ['mssql', 'ioredis'].filter((name) =>
      loaded.some((path) => path.includes(`${sep}node_modules${sep}${name}${sep}`)),
    );
  } finally {
    await server.close();
  }
}

test('a node without MSSQL_URL or Redis starts without loading mssql or ioredis', async () => {
  expect(await loadedByStart({})).toEqual([]);
});

test('a node with MSSQL_URL loads it (so the check above can see it)', async () => {
  const url = `Server=127.0.0.1,${await freePort()};Database=sb;User Id=sa;Password=x;Encrypt=false`;
  expect(await loadedByStart({ MSSQL_URL: url })).toEqual(['mssql']);
});
