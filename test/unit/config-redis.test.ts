import { loadConfig } from '../../app/config';
import { configError } from '../helpers/config-error';

const SENTINELS = '10.0.0.1:26379,10.0.0.2:26379,[::1]:26380';

describe('how the engine reaches Redis', () => {
  test('neither REDIS_URL nor REDIS_SENTINELS: the memory engine', () => {
    expect(loadConfig({}).redis).toBeUndefined();
    expect(loadConfig({ REDIS_ACK_REPLICAS: '0' }).redis).toBeUndefined();
  });

  test('REDIS_URL: one server, with REDIS_PASSWORD when the URL has none', () => {
    expect(loadConfig({ REDIS_URL: 'rediss://r:6380' }).redis).toMatchObject({
      target: { kind: 'single', url: 'rediss://r:6380' },
      ackReplicas: 0,
      ackTimeoutMs: 1000,
    });
    expect(
      loadConfig({ REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'p@ss/word', REDIS_TLS: 'false' })
        .redis?.target,
    ).toEqual({ kind: 'single', url: 'redis://r:6379', password: 'p@ss/word' });
  });

  test('REDIS_SENTINELS with REDIS_SENTINEL_NAME: the master of a Sentinel group', () => {
    const config = loadConfig({
      REDIS_SENTINELS: SENTINELS,
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: 'secret',
      REDIS_SENTINEL_PASSWORD: 'other',
      REDIS_TLS: 'true',
      REDIS_ACK_REPLICAS: '1',
      REDIS_ACK_TIMEOUT_MS: '250',
    });
    expect(config.redis).toMatchObject({
      target: {
        kind: 'sentinel',
        name: 'mymaster',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        password: 'secret',
        sentinelPassword: 'other',
        tls: true,
      },
      ackReplicas: 1,
      ackTimeoutMs: 250,
    });
    expect(loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm' }).redis?.target).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 'a', port: 1 }],
      name: 'm',
      tls: false,
    });
  });

  test('REDIS_CLUSTER_NODES takes REDIS_ACK_REPLICAS: WAIT on the node that ran the script', () => {
    expect(
      loadConfig({
        REDIS_CLUSTER_NODES: 'a:1,b:2',
        REDIS_ACK_REPLICAS: '1',
        REDIS_ACK_TIMEOUT_MS: '300',
      }).redis,
    ).toMatchObject({ target: { kind: 'cluster' }, ackReplicas: 1, ackTimeoutMs: 300 });
  });

  test.each([
    [{ REDIS_URL: 'redis://r', REDIS_SENTINELS: SENTINELS }, 'REDIS_SENTINELS', 'not both'],
    [{ REDIS_SENTINELS: SENTINELS }, 'REDIS_SENTINEL_NAME', 'must be set with REDIS_SENTINELS'],
    [{ REDIS_URL: 'redis://r', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_NAME', 'only with'],
    [{ REDIS_SENTINELS: 'a:1,b', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS', 'host:port'],
    [{ REDIS_SENTINELS: 'a:0', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS', 'host:port'],
    [{ REDIS_SENTINELS: 'a:70000', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS', 'host:port'],
    [{ REDIS_SENTINELS: 'a:1,,b:2', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS', 'host:port'],
    [{ REDIS_URL: 'redis://:pw@r', REDIS_PASSWORD: 'x' }, 'REDIS_PASSWORD', 'already'],
    [{ REDIS_URL: 'redis://r', REDIS_TLS: 'true' }, 'REDIS_TLS', 'rediss://'],
    [{ REDIS_URL: 'rediss://r', REDIS_TLS: 'no' }, 'REDIS_TLS', 'rediss://'],
    [{ REDIS_TLS: 'true' }, 'REDIS_TLS', 'needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES'],
    [
      { REDIS_PASSWORD: 'x' },
      'REDIS_PASSWORD',
      'needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES',
    ],
    [
      { REDIS_ACK_REPLICAS: '1' },
      'REDIS_ACK_REPLICAS',
      'needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES',
    ],
    [{ REDIS_URL: 'redis://r', REDIS_ACK_REPLICAS: 'x' }, 'REDIS_ACK_REPLICAS', 'whole number'],
    [
      { REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'b:2' },
      'REDIS_CLUSTER_NODES',
      'not both',
    ],
    [{ REDIS_CLUSTER_NODES: 'b:2', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_NAME', 'only with'],
    [
      { REDIS_URL: 'redis://r', REDIS_ACK_REPLICAS: '1', REDIS_ACK_TIMEOUT_MS: '5000' },
      'REDIS_ACK_TIMEOUT_MS',
      'below REDIS_COMMAND_TIMEOUT_MS',
    ],
  ])('%o is refused naming %s', (env, variable, words) => {
    const message = configError(env);
    expect(message.startsWith(`${variable}: `)).toBe(true);
    expect(message).toContain(words);
    expect(message).not.toMatch(/[\r\n]/);
  });

  test('passwords are never echoed', () => {
    expect(
      configError({ REDIS_URL: 'redis://:hunter2hunter2@r', REDIS_PASSWORD: 'hunter3hunter3' }),
    ).not.toMatch(/hunter/);
    expect(configError({ REDIS_SENTINEL_PASSWORD: 'hunter4hunter4' })).not.toMatch(/hunter/);
  });
});
