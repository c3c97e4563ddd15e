import { redisServerAvailable } from '../../support/redis-process';

export { freePort } from '../../support/free-port';
export { RedisServer, redisServerAvailable } from '../../support/redis-process';

/**
 * `describe` for suites that need a real Redis. Without `redis-server` the suite
 * is skipped with a plain note, except under CI=true, where it runs and fails:
 * CI must never pass by skipping the Redis tests.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerAvailable() || process.env['CI'] === 'true') {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `SKIPPED "${name}": redis-server is not installed (CI=true makes this a failure)\n`,
  );
  describe.skip(name, body);
}
