import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEAD_LETTERS_MAX } from '../services/dead-letters';
import { parseSqlUrl, type SqlOptions } from '../services/sql/connection';
import { MAX_ARCHIVE_ROWS } from '../services/sql/statements';

/**
 * Every setting the server reads, with its default, in one place. The README's
 * config table mirrors this file.
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

const schema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 chars of A-Z a-z 0-9 _ . : -')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  AUTH_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (HS256 needs 256 bits)')
    .optional(),
  ALLOWED_ORIGINS: origins.optional(),
  TRUST_PROXY: bool.default(false),
  MAX_CONNECTIONS: int(0).default(0),
  MAX_CONNECTIONS_PER_IP: int(0).default(1000),
  RATE_LIMIT_PER_S: int(0).default(20),
  RATE_LIMIT_BURST: int(1).default(40),
  MAX_MESSAGE_BYTES: int(64, 100 * 1024 * 1024).default(64 * 1024),
  MAX_BUFFERED_BYTES: int(1024).default(1024 * 1024),
  HEARTBEAT_MS: int(100).default(25_000),
  STATS_INTERVAL_MS: int(100, 60_000).default(2000),
  PRESENCE_WINDOW_MS: int(0, 10_000).default(25),
  HISTORY_SIZE: int(1).default(1000),
  RESUME_MAX_MESSAGES: int(1, 1_000_000).default(10_000),
  BODY_LIMIT_BYTES: int(1024).default(256 * 1024),
  DRAIN_DELAY_MS: int(0, 5000).default(0),
  HANDSHAKE_TIMEOUT_MS: int(100, 120_000).default(10_000),
  REDIS_URL: z
    .string()
    .refine((s) => {
      try {
        return ['redis:', 'rediss:'].includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{0,32}$/, 'must be up to 32 chars of A-Z a-z 0-9 _ . : -')
    .default('sb:'),
  REDIS_COMMAND_TIMEOUT_MS: int(50, 600_000).default(5000),
  HISTORY_TTL_S: int(1).default(7 * 24 * 3600),
  PRESENCE_LEASE_MS: int(300, 600_000).default(15_000),
  MSSQL_URL: z.string().min(1).optional(),
  MSSQL_ENCRYPT: bool.optional(),
  MSSQL_TRUST_SERVER_CERTIFICATE: bool.optional(),
  MSSQL_POOL_MAX: int(1, 1000).default(10),
  ARCHIVE_BATCH_SIZE: int(1, MAX_ARCHIVE_ROWS).default(MAX_ARCHIVE_ROWS),
  ARCHIVE_FLUSH_MS: int(10, 60_000).default(500),
  ARCHIVE_BACKLOG_MAX: int(1).default(100_000),
  DEAD_LETTERS_MAX: int(1, 1_000_000).default(DEAD_LETTERS_MAX),
});

export interface Config {
  port: number;
  host: string;
  nodeId: string;
  logLevel: string;
  adminToken: string;
  /** True when ADMIN_TOKEN was not set and a random one was made; main prints it once. */
  adminTokenGenerated: boolean;
  authSecret: string | undefined;
  allowedOrigins: string[];
  trustProxy: boolean;
  maxConnections: number;
  maxConnectionsPerIp: number;
  rateLimitPerS: number;
  rateLimitBurst: number;
  maxMessageBytes: number;
  maxBufferedBytes: number;
  heartbeatMs: number;
  /** How often the live charts sample the node's counters. */
  statsIntervalMs: number;
  /** Presence frames to a team leave at most once per this many ms; 0 = each at once. */
  presenceWindowMs: number;
  historySize: number;
  /** Most stored messages one resume replays before it ends with complete:false. */
  resumeMaxMessages: number;
  bodyLimitBytes: number;
  drainDelayMs: number;
  /** Longest an HTTP request (an upgrade included) may take to send its headers. */
  handshakeTimeoutMs: number;
  /** Set: the Redis engine; unset: the embedded memory engine. */
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  /**
   * Longest a command on the Redis command connection waits for its answer; a
   * publish that times out is answered `indeterminate`.
   */
  redisCommandTimeoutMs: number;
  historyTtlSeconds: number;
  presenceLeaseMs: number;
  /** Set: the SQL Server store (teams and the archive). */
  mssql: SqlOptions | undefined;
  archiveBatchSize: number;
  archiveFlushMs: number;
  archiveBacklogMax: number;
  /** Most archive rows refused by SQL Server kept for an admin; the oldest go past it. */
  deadLettersMax: number;
}

/** Values that may hold credentials are never echoed in an error. */
const SECRET_BEARING = new Set(['ADMIN_TOKEN', 'AUTH_SECRET', 'REDIS_URL', 'MSSQL_URL']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Throws ConfigError with one line naming the variable, e.g. `PORT: must be a whole number (got "x")`. */
export function loadConfig(env: Env): Config {
  // An empty variable means "not set", as in most twelve-factor apps and docker-compose files.
  const present: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]);
    // JSON.stringify keeps the message on one line whatever the value holds.
    const raw = present[key] ?? '';
    const shown = JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
    const got = SECRET_BEARING.has(key) ? '' : ` (got ${shown})`;
    throw new ConfigError(`${key}: ${issue.message}${got}`);
  }
  const c = parsed.data;
  let mssql: SqlOptions | undefined;
  if (c.MSSQL_URL !== undefined) {
    mssql = {
      url: c.MSSQL_URL,
      ...(c.MSSQL_ENCRYPT === undefined ? {} : { encrypt: c.MSSQL_ENCRYPT }),
      ...(c.MSSQL_TRUST_SERVER_CERTIFICATE === undefined
        ? {}
        : { trustServerCertificate: c.MSSQL_TRUST_SERVER_CERTIFICATE }),
      poolMax: c.MSSQL_POOL_MAX,
    };
    try {
      parseSqlUrl(mssql);
    } catch {
      throw new ConfigError(
        'MSSQL_URL: must be a connection string like Server=host,1433;Database=db;User Id=…;Password=… or mssql://user:pass@host:1433/db',
      );
    }
  }
  return {
    port: c.PORT,
    host: c.HOST,
    nodeId:
      c.NODE_ID ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 64),
    logLevel: c.LOG_LEVEL,
    adminToken: c.ADMIN_TOKEN ?? randomBytes(24).toString('base64url'),
    adminTokenGenerated: c.ADMIN_TOKEN === undefined,
    authSecret: c.AUTH_SECRET,
    allowedOrigins: c.ALLOWED_ORIGINS ?? [],
    trustProxy: c.TRUST_PROXY,
    maxConnections: c.MAX_CONNECTIONS,
    maxConnectionsPerIp: c.MAX_CONNECTIONS_PER_IP,
    rateLimitPerS: c.RATE_LIMIT_PER_S,
    rateLimitBurst: c.RATE_LIMIT_BURST,
    maxMessageBytes: c.MAX_MESSAGE_BYTES,
    maxBufferedBytes: c.MAX_BUFFERED_BYTES,
    heartbeatMs: c.HEARTBEAT_MS,
    statsIntervalMs: c.STATS_INTERVAL_MS,
    presenceWindowMs: c.PRESENCE_WINDOW_MS,
    historySize: c.HISTORY_SIZE,
    resumeMaxMessages: c.RESUME_MAX_MESSAGES,
    bodyLimitBytes: c.BODY_LIMIT_BYTES,
    drainDelayMs: c.DRAIN_DELAY_MS,
    handshakeTimeoutMs: c.HANDSHAKE_TIMEOUT_MS,
    redisUrl: c.REDIS_URL,
    redisKeyPrefix: c.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: c.REDIS_COMMAND_TIMEOUT_MS,
    historyTtlSeconds: c.HISTORY_TTL_S,
    presenceLeaseMs: c.PRESENCE_LEASE_MS,
    mssql,
    archiveBatchSize: c.ARCHIVE_BATCH_SIZE,
    archiveFlushMs: c.ARCHIVE_FLUSH_MS,
    archiveBacklogMax: c.ARCHIVE_BACKLOG_MAX,
    deadLettersMax: c.DEAD_LETTERS_MAX,
  };
}
