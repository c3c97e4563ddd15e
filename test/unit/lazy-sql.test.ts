import { freePort } from '../helpers/redis-server';
import type * as ServerHelpers from '../helpers/server';

/**
 * `mssql` (with tedious) costs a start about 300 ms; a node without MSSQL_URL
 * must not load it, so a restarted node is ready sooner. Each case starts the
 * whole server in a fresh module registry and looks at what was required.
 */
async function mssqlLoadedByStart(env: Record<string, string>): Promise<boolean> {
  // Not jest.isolateModules: require.cache shows only the main registry, so reset that.
  jest.resetModules();
  const helpers = jest.requireActual<typeof ServerHelpers>('../helpers/server');
  const server = await helpers.startTestServer({ LOG_LEVEL: 'silent', ...env });
  try {
    return Object.keys(require.cache).some((path) => /[\\/]node_modules[\\/]mssql[\\/]/.test(path));
  } finally {
    await server.close();
  }
}

test('a node without MSSQL_URL starts without loading mssql', async () => {
  expect(await mssqlLoadedByStart({})).toBe(false);
});

test('a node with MSSQL_URL loads it (so the check above can see it)', async () => {
  const url = `Server=127.0.0.1,${await freePort()};Database=sb;User Id=sa;Password=x;Encrypt=false`;
  expect(await mssqlLoadedByStart({ MSSQL_URL: url })).toBe(true);
});
