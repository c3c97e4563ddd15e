import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEAD_LETTERS_MAX } from '../services/dead-letters';
import { parseEndpoint, type RedisTarget } from '../services/redis/target';
import { sqlUrlNamesServer } from '../services/sql/sql-url';
import { MAX_ARCHIVE_ROWS } from '../services/sql/statements';

/**
 * Every setting the server reads, with its default, in one place: each group
 * below names its environment variables with what they accept, then shapes them
 * into the settings of one subsystem. `Config` is what the groups produce. The
 * configuration table in the docs mirrors this file (test/unit/config-schema.test.ts).
 */

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => ['true', 'false', '1', '0', 'yes', 'no'].includes(s), 'must be true or false')
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const origins = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o.length > 0),
  )
  .refine((list) => list.length > 0, 'must list at least one origin (unset it to allow any)')
  .refine(
    (list) =>
      list.every((o) => {
        try {
          return new URL(o).origin === o;
        } catch {
          return false;
        }
      }),
    'must be a comma-separated list of origins like https://app.example.com',
  );

const redisUrl = z.string().refine((s) => {
  try {
    return ['redis:', 'rediss:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'must be a redis:// or rediss:// URL');

const endpoints = z
  .string()
  .transform((s) => s.split(',').map((e) => e.trim()))
  .refine(
    (list) => list.every((e) => parseEndpoint(e) !== undefined),
    'must be a comma-separated list of host:port',
  )
  .transform((list) => list.map((e) => parseEndpoint(e)).filter((e) => e !== undefined));

const sqlUrl = z
  .string()
  .min(1)
  .refine(
    sqlUrlNamesServer,
    'must be a connection string like Server=host,1433;Database=db;User Id=…;Password=… or mssql://user:pass@host:1433/db',
  );

const http = z
  .object({
    PORT: int(0, 65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    TRUST_PROXY: bool.default(false),
    BODY_LIMIT_BYTES: int(1024).default(256 * 1024),
    DRAIN_DELAY_MS: int(0, 5000).default(0),
    HANDSHAKE_TIMEOUT_MS: int(100, 120_000).default(10_000),
  })
  .transform((e) => ({
    port: e.PORT,
    host: e.HOST,
    trustProxy: e.TRUST_PROXY,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    /** How long /api/ready reports 503 at shutdown before sockets are closed. */
    drainDelayMs: e.DRAIN_DELAY_MS,
    /** Longest an HTTP request (an upgrade included) may take to send its headers. */
    handshakeTimeoutMs: e.HANDSHAKE_TIMEOUT_MS,
  }));

const node = z
  .object({
    NODE_ID: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 chars of A-Z a-z 0-9 _ . : -')
      .optional(),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    STATS_INTERVAL_MS: int(100, 60_000).default(2000),
  })
  .transform((e) => ({
    id: e.NODE_ID ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 64),
    logLevel: e.LOG_LEVEL,
    /** How often the admin page's live charts sample the node's counters (GET /api/stats). */
    statsIntervalMs: e.STATS_INTERVAL_MS,
  }));

const auth = z
  .object({
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    AUTH_SECRET: z
      .string()
      .min(32, 'must be at least 32 characters (HS256 needs 256 bits)')
      .optional(),
    ALLOWED_ORIGINS: origins.optional(),
  })
  .transform((e) => ({
    adminToken: e.ADMIN_TOKEN ?? randomBytes(24).toString('base64url'),
    /** True when ADMIN_TOKEN was not set and a random one was made; main prints it once. */
    adminTokenGenerated: e.ADMIN_TOKEN === undefined,
    /** Unset: sockets need no token. */
    authSecret: e.AUTH_SECRET,
    /** Empty: any origin. */
    allowedOrigins: e.ALLOWED_ORIGINS ?? [],
  }));

const socket = z
  .object({
    MAX_CONNECTIONS: int(0).default(0),
    MAX_CONNECTIONS_PER_IP: int(0).default(1000),
    RATE_LIMIT_PER_S: int(0).default(20),
    RATE_LIMIT_BURST: int(1).default(40),
    MAX_MESSAGE_BYTES: int(64, 100 * 1024 * 1024).default(64 * 1024),
    MAX_BUFFERED_BYTES: int(1024).default(1024 * 1024),
    HEARTBEAT_MS: int(100).default(25_000),
    PRESENCE_WINDOW_MS: int(0, 10_000).default(25),
    RESUME_MAX_MESSAGES: int(1, 1_000_000).default(10_000),
    MAX_TEAMS_PER_CONNECTION: int(1, 10_000).default(100),
  })
  .transform((e) => ({
    /** Open sockets per node; 0 = no cap. */
    maxConnections: e.MAX_CONNECTIONS,
    /** Open sockets per client IP; 0 = no cap. */
    maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
    /** Frames a second per connection; 0 = no limit. */
    rateLimitPerS: e.RATE_LIMIT_PER_S,
    rateLimitBurst: e.RATE_LIMIT_BURST,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxBufferedBytes: e.MAX_BUFFERED_BYTES,
    heartbeatMs: e.HEARTBEAT_MS,
    /** Presence frames to a team leave at most once per this many ms; 0 = each at once. */
    presenceWindowMs: e.PRESENCE_WINDOW_MS,
    /** Most stored messages one resume replays before it ends with complete:false. */
    resumeMaxMessages: e.RESUME_MAX_MESSAGES,
    /** Teams one socket follows at most, its home team included (docs/PROTOCOL.md §7). */
    maxTeamsPerConnection: e.MAX_TEAMS_PER_CONNECTION,
  }));

const history = z
  .object({
    HISTORY_SIZE: int(1).default(1000),
  })
  .transform((e) => ({
    /** Messages retained per team, on either engine. */
    size: e.HISTORY_SIZE,
  }));

/**
 * `REDIS_URL` (one server), `REDIS_SENTINELS` (a Sentinel group) or
 * `REDIS_CLUSTER_NODES` (Redis Cluster): the Redis engine; none: the embedded
 * memory engine. A combination that says two things at once is refused at start
 * rather than one of them silently winning.
 */
const redis = z
  .object({
    REDIS_URL: redisUrl.optional(),
    REDIS_CLUSTER_NODES: endpoints.optional(),
    REDIS_SENTINELS: endpoints.optional(),
    REDIS_SENTINEL_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 chars of A-Z a-z 0-9 _ . : -')
      .optional(),
    REDIS_PASSWORD: z.string().optional(),
    REDIS_SENTINEL_PASSWORD: z.string().optional(),
    REDIS_TLS: bool.optional(),
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{0,32}$/, 'must be up to 32 chars of A-Z a-z 0-9 _ . : -')
      .default('sb:'),
    REDIS_COMMAND_TIMEOUT_MS: int(50, 600_000).default(5000),
    REDIS_ACK_REPLICAS: int(0, 100).default(0),
    REDIS_ACK_TIMEOUT_MS: int(10, 60_000).default(1000),
    HISTORY_TTL_S: int(1).default(7 * 24 * 3600),
    PRESENCE_LEASE_MS: int(300, 600_000).default(15_000),
  })
  .superRefine((e, ctx) => {
    const refuse = (variable: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [variable], message });
    if (e.REDIS_CLUSTER_NODES !== undefined && e.REDIS_URL !== undefined)
      refuse('REDIS_CLUSTER_NODES', 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
    if (e.REDIS_CLUSTER_NODES !== undefined && e.REDIS_SENTINELS !== undefined)
      refuse('REDIS_CLUSTER_NODES', 'set either REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both');
    if (e.REDIS_URL !== undefined) {
      if (e.REDIS_SENTINELS !== undefined)
        refuse('REDIS_SENTINELS', 'set either REDIS_URL or REDIS_SENTINELS, not both');
      else if (e.REDIS_SENTINEL_NAME !== undefined)
        refuse('REDIS_SENTINEL_NAME', 'only with REDIS_SENTINELS, not with REDIS_URL');
      else if (e.REDIS_SENTINEL_PASSWORD !== undefined)
        refuse('REDIS_SENTINEL_PASSWORD', 'only with REDIS_SENTINELS, not with REDIS_URL');
      else if (e.REDIS_PASSWORD !== undefined && new URL(e.REDIS_URL).password !== '')
        refuse('REDIS_PASSWORD', 'REDIS_URL holds a password already; set only one of them');
      else if (
        e.REDIS_TLS !== undefined &&
        e.REDIS_TLS !== (new URL(e.REDIS_URL).protocol === 'rediss:')
      )
        refuse('REDIS_TLS', 'disagrees with REDIS_URL; with a URL, say TLS with rediss://');
    } else if (e.REDIS_SENTINELS !== undefined) {
      if (e.REDIS_SENTINEL_NAME === undefined)
        refuse('REDIS_SENTINEL_NAME', 'must be set with REDIS_SENTINELS (the monitored master)');
    } else if (e.REDIS_CLUSTER_NODES !== undefined) {
      if (e.REDIS_SENTINEL_NAME !== undefined)
        refuse('REDIS_SENTINEL_NAME', 'only with REDIS_SENTINELS, not with REDIS_CLUSTER_NODES');
      else if (e.REDIS_SENTINEL_PASSWORD !== undefined)
        refuse(
          'REDIS_SENTINEL_PASSWORD',
          'only with REDIS_SENTINELS, not with REDIS_CLUSTER_NODES',
        );
    } else {
      for (const variable of [
        'REDIS_SENTINEL_NAME',
        'REDIS_PASSWORD',
        'REDIS_SENTINEL_PASSWORD',
        'REDIS_TLS',
        'REDIS_ACK_REPLICAS',
      ] as const) {
        if (e[variable] !== undefined && !(variable === 'REDIS_ACK_REPLICAS' && e[variable] === 0))
          refuse(
            variable,
            'needs REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (no Redis is configured)',
          );
      }
    }
    // WAIT runs on the command connection: its own timeout must end first, or every
    // replicated ack would be a command timeout instead of a count of replicas.
    if (e.REDIS_ACK_REPLICAS > 0 && e.REDIS_ACK_TIMEOUT_MS >= e.REDIS_COMMAND_TIMEOUT_MS)
      refuse('REDIS_ACK_TIMEOUT_MS', 'must be below REDIS_COMMAND_TIMEOUT_MS');
  })
  .transform((e) => {
    const target = redisTarget(e);
    return target === undefined
      ? undefined
      : {
          target,
          keyPrefix: e.REDIS_KEY_PREFIX,
          /**
           * Longest a command on the Redis command connection waits for its answer; a
           * publish that times out is answered `indeterminate`.
           */
          commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
          /** Replicas a message must reach before it is acked (WAIT); 0: the master alone. */
          ackReplicas: e.REDIS_ACK_REPLICAS,
          /** Longest WAIT blocks; fewer replicas by then: `indeterminate`. */
          ackTimeoutMs: e.REDIS_ACK_TIMEOUT_MS,
          historyTtlSeconds: e.HISTORY_TTL_S,
          presenceLeaseMs: e.PRESENCE_LEASE_MS,
        };
  });

function redisTarget(e: {
  REDIS_URL?: string | undefined;
  REDIS_SENTINELS?: { host: string; port: number }[] | undefined;
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_TLS?: boolean | undefined;
  REDIS_CLUSTER_NODES?: { host: string; port: number }[] | undefined;
}): RedisTarget | undefined {
  if (e.REDIS_URL !== undefined) {
    return {
      kind: 'single',
      url: e.REDIS_URL,
      // A password with characters a URL must escape is easier to give on its own.
      ...(e.REDIS_PASSWORD === undefined ? {} : { password: e.REDIS_PASSWORD }),
    };
  }
  if (e.REDIS_SENTINELS !== undefined && e.REDIS_SENTINEL_NAME !== undefined) {
    return {
      kind: 'sentinel',
      sentinels: e.REDIS_SENTINELS,
      name: e.REDIS_SENTINEL_NAME,
      ...(e.REDIS_PASSWORD === undefined ? {} : { password: e.REDIS_PASSWORD }),
      ...(e.REDIS_SENTINEL_PASSWORD === undefined
        ? {}
        : { sentinelPassword: e.REDIS_SENTINEL_PASSWORD }),
      tls: e.REDIS_TLS ?? false,
    };
  }
  if (e.REDIS_CLUSTER_NODES !== undefined) {
    return {
      kind: 'cluster',
      nodes: e.REDIS_CLUSTER_NODES,
      ...(e.REDIS_PASSWORD === undefined ? {} : { password: e.REDIS_PASSWORD }),
      tls: e.REDIS_TLS ?? false,
    };
  }
  return undefined;
}

/** Set: the SQL Server store (teams and the archive). */
const sql = z
  .object({
    MSSQL_URL: sqlUrl.optional(),
    MSSQL_ENCRYPT: bool.optional(),
    MSSQL_TRUST_SERVER_CERTIFICATE: bool.optional(),
    MSSQL_POOL_MAX: int(1, 1000).default(10),
  })
  .transform((e) =>
    e.MSSQL_URL === undefined
      ? undefined
      : {
          url: e.MSSQL_URL,
          // Unset, TLS comes from the connection string.
          ...(e.MSSQL_ENCRYPT === undefined ? {} : { encrypt: e.MSSQL_ENCRYPT }),
          ...(e.MSSQL_TRUST_SERVER_CERTIFICATE === undefined
            ? {}
            : { trustServerCertificate: e.MSSQL_TRUST_SERVER_CERTIFICATE }),
          poolMax: e.MSSQL_POOL_MAX,
        },
  );

const archive = z
  .object({
    ARCHIVE_BATCH_SIZE: int(1, MAX_ARCHIVE_ROWS).default(MAX_ARCHIVE_ROWS),
    ARCHIVE_FLUSH_MS: int(10, 60_000).default(500),
    ARCHIVE_BACKLOG_MAX: int(1).default(100_000),
    DEAD_LETTERS_MAX: int(1, 1_000_000).default(DEAD_LETTERS_MAX),
  })
  .transform((e) => ({
    batchSize: e.ARCHIVE_BATCH_SIZE,
    /** Longest a message waits for its batch; also how long the Redis archiver's read blocks. */
    flushMs: e.ARCHIVE_FLUSH_MS,
    /** Most messages waiting for the archive before sends are refused. */
    backlogMax: e.ARCHIVE_BACKLOG_MAX,
    /** Most archive rows refused by SQL Server kept for an admin; the oldest go past it. */
    deadLettersMax: e.DEAD_LETTERS_MAX,
  }));

/** Each group reads the variables it names from the same environment and ignores the rest. */
export const configSchema = z.object({ http, node, auth, socket, history, redis, sql, archive });

export type Config = z.output<typeof configSchema>;
export type RedisConfig = NonNullable<Config['redis']>;
export type SqlConfig = NonNullable<Config['sql']>;

/** Values that may hold credentials are never echoed in an error. */
const SECRET_BEARING = new Set([
  'ADMIN_TOKEN',
  'AUTH_SECRET',
  'REDIS_URL',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'MSSQL_URL',
]);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Throws ConfigError with one line naming the variable, e.g. `PORT: must be a whole number (got "x")`. */
export function loadConfig(env: Env): Config {
  // An empty variable means "not set", as in most twelve-factor apps and docker-compose files.
  const present: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') present[key] = value;
  }
  const input = Object.fromEntries(Object.keys(configSchema.shape).map((g) => [g, present]));
  const parsed = configSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  // The path is [group, variable]: every group reads flat environment variables.
  const key = String(issue.path[1]);
  // JSON.stringify keeps the message on one line whatever the value holds.
  const raw = present[key] ?? '';
  const shown = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
  const got = SECRET_BEARING.has(key) ? '' : ` (got ${shown})`;
  throw new ConfigError(`${key}: ${issue.message}${got}`);
}
