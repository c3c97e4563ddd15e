import { ConfigError, loadConfig, type Config } from '../../app/config';
import { configError } from '../helpers/config-error';

function expectOneLineNaming(message: string, variable: string): void {
  expect(message.startsWith(`${variable}: `)).toBe(true);
  expect(message).not.toMatch(/[\r\n]/);
}

describe('loadConfig defaults', () => {
  let config: Config;
  beforeAll(() => {
    config = loadConfig({});
  });

  test('numbers and flags', () => {
    expect(config).toMatchObject({
      http: {
        port: 3000,
        host: '0.0.0.0',
        bodyLimitBytes: 262144,
        drainDelayMs: 0,
        trustProxy: false,
      },
      node: { logLevel: 'info' },
      socket: {
        rateLimitPerS: 20,
        rateLimitBurst: 40,
        maxConnections: 0,
        maxConnectionsPerIp: 1000,
        maxMessageBytes: 65536,
        maxBufferedBytes: 1048576,
        heartbeatMs: 25000,
        presenceWindowMs: 25,
        resumeMaxMessages: 10000,
        maxTeamsPerConnection: 100,
      },
      history: { size: 1000 },
      auth: { allowedOrigins: [], authSecret: undefined },
    });
  });

  test('a node id is made and is valid', () => {
    expect(config.node.id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
  });

  test('an admin token is generated when unset', () => {
    expect(config.auth.adminTokenGenerated).toBe(true);
    expect(config.auth.adminToken.length).toBeGreaterThanOrEqual(16);
    expect(config.auth.adminToken).toMatch(/^\S+$/);
  });

  test('generated admin tokens differ between loads', () => {
    expect(loadConfig({}).auth.adminToken).not.toBe(loadConfig({}).auth.adminToken);
  });

  test('unrelated variables are ignored', () => {
    expect(loadConfig({ HOME: '/root', PATH: '/bin', npm_config_x: 'y' }).http.port).toBe(3000);
  });
});

describe('loadConfig values', () => {
  test('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      NODE_ID: 'node-1',
      STATS_INTERVAL_MS: '750',
      LOG_LEVEL: 'debug',
      ADMIN_TOKEN: 'a'.repeat(16),
      AUTH_SECRET: 's'.repeat(32),
      ALLOWED_ORIGINS: 'https://a.com',
      TRUST_PROXY: 'true',
      MAX_CONNECTIONS: '10',
      MAX_CONNECTIONS_PER_IP: '0',
      RATE_LIMIT_PER_S: '0',
      RATE_LIMIT_BURST: '1',
      MAX_MESSAGE_BYTES: '1024',
      MAX_BUFFERED_BYTES: '2048',
      HEARTBEAT_MS: '1000',
      HISTORY_SIZE: '5',
      RESUME_MAX_MESSAGES: '250',
      BODY_LIMIT_BYTES: '4096',
      DRAIN_DELAY_MS: '100',
      PRESENCE_WINDOW_MS: '0',
      REDIS_URL: 'rediss://cache.internal:6380',
      REDIS_KEY_PREFIX: 'app1:',
      REDIS_COMMAND_TIMEOUT_MS: '250',
      REDIS_ACK_REPLICAS: '2',
      REDIS_ACK_TIMEOUT_MS: '100',
      HISTORY_TTL_S: '3600',
      PRESENCE_LEASE_MS: '5000',
      MSSQL_URL: 'Server=db,1433;Database=sb;User Id=sa;Password=pw',
      MSSQL_ENCRYPT: 'false',
      MSSQL_TRUST_SERVER_CERTIFICATE: 'true',
      MSSQL_POOL_MAX: '4',
      ARCHIVE_BATCH_SIZE: '50',
      ARCHIVE_FLUSH_MS: '100',
      ARCHIVE_BACKLOG_MAX: '1000',
      DEAD_LETTERS_MAX: '500',
    });
    expect(config).toEqual({
      http: {
        port: 8080,
        host: '127.0.0.1',
        trustProxy: true,
        bodyLimitBytes: 4096,
        drainDelayMs: 100,
        handshakeTimeoutMs: 10000,
      },
      node: { id: 'node-1', logLevel: 'debug', statsIntervalMs: 750 },
      auth: {
        adminToken: 'a'.repeat(16),
        adminTokenGenerated: false,
        authSecret: 's'.repeat(32),
        allowedOrigins: ['https://a.com'],
      },
      socket: {
        maxConnections: 10,
        maxConnectionsPerIp: 0,
        rateLimitPerS: 0,
        rateLimitBurst: 1,
        maxMessageBytes: 1024,
        maxBufferedBytes: 2048,
        heartbeatMs: 1000,
        presenceWindowMs: 0,
        resumeMaxMessages: 250,
        maxTeamsPerConnection: 100,
      },
      history: { size: 5 },
      redis: {
        target: { kind: 'single', url: 'rediss://cache.internal:6380' },
        keyPrefix: 'app1:',
        commandTimeoutMs: 250,
        ackReplicas: 2,
        ackTimeoutMs: 100,
        historyTtlSeconds: 3600,
        presenceLeaseMs: 5000,
      },
      sql: {
        url: 'Server=db,1433;Database=sb;User Id=sa;Password=pw',
        encrypt: false,
        trustServerCertificate: true,
        poolMax: 4,
      },
      archive: { batchSize: 50, flushMs: 100, backlogMax: 1000, deadLettersMax: 500 },
    });
  });

  test('DEAD_LETTERS_MAX defaults to 1,000 and must be at least 1', () => {
    expect(loadConfig({}).archive.deadLettersMax).toBe(1000);
    expectOneLineNaming(configError({ DEAD_LETTERS_MAX: '0' }), 'DEAD_LETTERS_MAX');
  });

  test('PORT 0 (any free port) is allowed', () => {
    expect(loadConfig({ PORT: '0' }).http.port).toBe(0);
  });

  test('surrounding whitespace in numbers is tolerated', () => {
    expect(loadConfig({ PORT: ' 4000 ' }).http.port).toBe(4000);
  });

  test('an empty string means unset', () => {
    const config = loadConfig({
      PORT: '',
      HOST: '',
      NODE_ID: '',
      LOG_LEVEL: '',
      ADMIN_TOKEN: '',
      AUTH_SECRET: '',
      ALLOWED_ORIGINS: '',
      TRUST_PROXY: '',
      RATE_LIMIT_PER_S: '',
      RATE_LIMIT_BURST: '',
      MAX_CONNECTIONS_PER_IP: '',
      MAX_MESSAGE_BYTES: '',
      MAX_BUFFERED_BYTES: '',
      HEARTBEAT_MS: '',
      REDIS_URL: '',
      MSSQL_URL: '',
    });
    expect(config).toMatchObject({
      http: { port: 3000, host: '0.0.0.0', trustProxy: false },
      node: { logLevel: 'info' },
      auth: { adminTokenGenerated: true, authSecret: undefined, allowedOrigins: [] },
      socket: {
        rateLimitPerS: 20,
        rateLimitBurst: 40,
        maxConnectionsPerIp: 1000,
        maxMessageBytes: 65536,
        maxBufferedBytes: 1048576,
        heartbeatMs: 25000,
      },
      redis: undefined,
      sql: undefined,
    });
  });

  test('undefined values mean unset', () => {
    expect(loadConfig({ PORT: undefined }).http.port).toBe(3000);
  });
});

describe('loadConfig TRUST_PROXY', () => {
  test.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    [' Yes ', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
  ])('%j is %s', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).http.trustProxy).toBe(expected);
  });

  test.each(['maybe', 'on', '2', 'truee'])('%j is refused', (value) => {
    expectOneLineNaming(configError({ TRUST_PROXY: value }), 'TRUST_PROXY');
  });
});

describe('loadConfig ALLOWED_ORIGINS', () => {
  test('a comma-separated list with spaces', () => {
    expect(
      loadConfig({ ALLOWED_ORIGINS: 'https://a.com, http://localhost:5173 ,https://b.example.org' })
        .auth.allowedOrigins,
    ).toEqual(['https://a.com', 'http://localhost:5173', 'https://b.example.org']);
  });

  test('empty items are skipped', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: 'https://a.com,,' }).auth.allowedOrigins).toEqual([
      'https://a.com',
    ]);
  });

  test.each([
    'https://a.com/path',
    'https://a.com/',
    'a.com',
    '*',
    'https://a.com?x=1',
    'https://a.com, not an origin',
  ])('%j is refused', (value) => {
    const message = configError({ ALLOWED_ORIGINS: value });
    expectOneLineNaming(message, 'ALLOWED_ORIGINS');
  });
});

describe('loadConfig errors', () => {
  test.each([
    ['PORT', 'x'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '3.5'],
    ['PORT', '1e3'],
    ['PORT', '   '],
    ['HEARTBEAT_MS', '99'],
    ['HEARTBEAT_MS', 'soon'],
    ['RATE_LIMIT_PER_S', '-5'],
    ['RATE_LIMIT_BURST', '0'],
    ['MAX_CONNECTIONS_PER_IP', 'many'],
    ['MAX_CONNECTIONS', '-1'],
    ['MAX_MESSAGE_BYTES', '10'],
    ['MAX_BUFFERED_BYTES', '1'],
    ['HISTORY_SIZE', '0'],
    ['RESUME_MAX_MESSAGES', '0'],
    ['RESUME_MAX_MESSAGES', '1000001'],
    ['RESUME_MAX_MESSAGES', 'all'],
    ['BODY_LIMIT_BYTES', '1'],
    ['DRAIN_DELAY_MS', '5001'],
    ['PRESENCE_WINDOW_MS', '10001'],
    ['PRESENCE_WINDOW_MS', '-1'],
    ['LOG_LEVEL', 'verbose'],
    ['NODE_ID', 'has space'],
    ['NODE_ID', 'n'.repeat(65)],
  ])('%s=%j throws a one-line ConfigError naming it', (name, value) => {
    expectOneLineNaming(configError({ [name]: value }), name);
  });

  test('the bad value is shown for non-secret variables', () => {
    expect(configError({ PORT: 'abc' })).toContain('abc');
  });

  test('a bad value containing a newline still gives a one-line message (PORT)', () => {
    expectOneLineNaming(configError({ PORT: '30\n00' }), 'PORT');
  });

  test('a bad value containing a newline still gives a one-line message (ALLOWED_ORIGINS)', () => {
    expectOneLineNaming(
      configError({ ALLOWED_ORIGINS: 'https://a.com\nhttps://b.com/x' }),
      'ALLOWED_ORIGINS',
    );
  });

  test('the first bad variable is the one reported, on one line', () => {
    const message = configError({ PORT: 'x', HEARTBEAT_MS: 'y' });
    expect(message).not.toMatch(/[\r\n]/);
    expect(/^(PORT|HEARTBEAT_MS): /.test(message)).toBe(true);
  });

  test('ConfigError is an Error named ConfigError', () => {
    try {
      loadConfig({ PORT: 'x' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('ConfigError');
    }
  });
});

describe('loadConfig secrets', () => {
  const shortToken = 'tok-SECRET-1';
  const shortSecret = 'auth-SECRET-value-123';

  test('a short ADMIN_TOKEN is refused without echoing it', () => {
    const message = configError({ ADMIN_TOKEN: shortToken });
    expectOneLineNaming(message, 'ADMIN_TOKEN');
    expect(message).not.toContain(shortToken);
    expect(message).not.toContain('SECRET');
  });

  test('a short AUTH_SECRET is refused without echoing it', () => {
    const message = configError({ AUTH_SECRET: shortSecret });
    expectOneLineNaming(message, 'AUTH_SECRET');
    expect(message).not.toContain(shortSecret);
    expect(message).not.toContain('SECRET-value');
  });

  test('secrets set alongside another bad variable are not echoed', () => {
    const token = 'admin-token-VERYSECRET';
    const secret = 'x'.repeat(20) + 'AUTHSECRET' + 'y'.repeat(10);
    const message = configError({ ADMIN_TOKEN: token, AUTH_SECRET: secret, PORT: 'bad' });
    expect(message).not.toContain('VERYSECRET');
    expect(message).not.toContain('AUTHSECRET');
  });

  test('a valid ADMIN_TOKEN is used as given', () => {
    const config = loadConfig({ ADMIN_TOKEN: 'exactly-16-chars' });
    expect(config.auth.adminToken).toBe('exactly-16-chars');
    expect(config.auth.adminTokenGenerated).toBe(false);
  });
});

describe('loadConfig engines', () => {
  test('REDIS_URL turns the Redis engine on, with its defaults', () => {
    const config = loadConfig({ REDIS_URL: 'redis://:pa55word@redis:6379/0' });
    expect(config.redis).toEqual({
      target: { kind: 'single', url: 'redis://:pa55word@redis:6379/0' },
      keyPrefix: 'sb:',
      commandTimeoutMs: 5000,
      ackReplicas: 0,
      ackTimeoutMs: 1000,
      historyTtlSeconds: 604800,
      presenceLeaseMs: 15000,
    });
    expect(loadConfig({}).redis).toBeUndefined();
  });

  test('REDIS_CLUSTER_NODES turns the Redis engine on against a cluster', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'r1:7000, 10.0.0.2:7001,[::1]:7002' });
    expect(config.redis?.target).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
  });

  test.each([
    [{ REDIS_CLUSTER_NODES: 'r1:7000,r2' }],
    [{ REDIS_CLUSTER_NODES: 'r1:7000', REDIS_URL: 'redis://r1:6379' }],
  ])('a bad REDIS_CLUSTER_NODES combination stops the start: %j', (env) => {
    expectOneLineNaming(configError(env), 'REDIS_CLUSTER_NODES');
  });

  test('REDIS_CLUSTER_NODES with MSSQL_URL: the SQL Server archive on a cluster', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: 'r1:7000',
      MSSQL_URL: 'Server=db;Database=sb;User Id=sa;Password=x',
    });
    expect(config.redis?.target.kind).toBe('cluster');
    expect(config.sql).toBeDefined();
  });

  test.each(['http://redis:6379', 'redis//:pa55word@redis', 'pa55word'])(
    'a REDIS_URL that is not a redis URL (%s) is refused without echoing it',
    (value) => {
      const message = configError({ REDIS_URL: value });
      expectOneLineNaming(message, 'REDIS_URL');
      expect(message).not.toContain('pa55word');
    },
  );

  test.each([
    ['REDIS_KEY_PREFIX', 'has space'],
    ['HISTORY_TTL_S', '0'],
    ['PRESENCE_LEASE_MS', '10'],
    ['REDIS_COMMAND_TIMEOUT_MS', '10'],
  ])('%s=%s is refused', (key, value) => {
    expectOneLineNaming(configError({ [key]: value }), key);
  });

  test('MSSQL_URL turns the SQL Server store on, as a connection string or a URL', () => {
    for (const url of [
      'mssql://sa:pa55word@db:1433/switchboard',
      'Server=db;Database=sb;User Id=sa;Password=x',
    ]) {
      const config = loadConfig({ MSSQL_URL: url });
      // TLS comes from the string unless MSSQL_ENCRYPT / MSSQL_TRUST_SERVER_CERTIFICATE say otherwise.
      expect(config.sql).toEqual({ url, poolMax: 10 });
    }
    expect(loadConfig({}).sql).toBeUndefined();
    const defaults = loadConfig({});
    expect([
      defaults.archive.batchSize,
      defaults.archive.flushMs,
      defaults.archive.backlogMax,
    ]).toEqual([200, 500, 100000]);
  });

  test.each(['Database=sb;Password=pa55word', 'pa55word'])(
    'an MSSQL_URL without a server (%s) is refused without echoing it',
    (value) => {
      const message = configError({ MSSQL_URL: value });
      expectOneLineNaming(message, 'MSSQL_URL');
      expect(message).not.toContain('pa55word');
    },
  );

  test('ARCHIVE_BATCH_SIZE stays under the 2,100-parameter limit of one request', () => {
    expectOneLineNaming(configError({ ARCHIVE_BATCH_SIZE: '201' }), 'ARCHIVE_BATCH_SIZE');
  });
});
