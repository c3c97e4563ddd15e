import sql from 'mssql';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { reconnectDelay } from '../backoff';
import { isSqlUri, type SqlOptions } from './sql-url';
import { MIGRATIONS, SQL } from './statements';

/** Turns MSSQL_URL into an mssql config; throws on a string that names no server. */
export function parseSqlUrl(options: SqlOptions): sql.config {
  let config: sql.config;
  if (isSqlUri(options.url)) {
    const url = new URL(options.url);
    config = {
      server: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.pathname.length > 1 ? { database: decodeURIComponent(url.pathname.slice(1)) } : {}),
    };
  } else {
    config = sql.ConnectionPool.parseConnectionString(options.url) as sql.config;
  }
  if (!config.server) throw new Error('no server in the connection string');
  return {
    ...config,
    pool: { max: options.poolMax, min: 0, idleTimeoutMillis: 30_000 },
    connectionTimeout: 5000,
    requestTimeout: 15_000,
    options: {
      ...config.options,
      encrypt: options.encrypt ?? config.options?.encrypt ?? true,
      trustServerCertificate:
        options.trustServerCertificate ?? config.options?.trustServerCertificate ?? false,
    },
  };
}

/**
 * The process's one ConnectionPool. It is created once and connected in the
 * background: while SQL Server is unreachable the server runs without it, reports
 * `db: down`, and keeps retrying with capped backoff; each state change is logged
 * once. `request()` refuses with `unavailable` instead of queueing while down.
 */
export class SqlConnection {
  private pool: sql.ConnectionPool | undefined;
  private up = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly config: sql.config,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.up && this.pool?.connected === true;
  }

  /** Starts connecting; resolves after the first attempt, whether it worked or not. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.attempts++;
    const pool = new sql.ConnectionPool(this.config);
    pool.on('error', (err: unknown) => this.down(err));
    try {
      await pool.connect();
      await migrate(pool, this.log);
      this.pool = pool;
      this.up = true;
      this.log.info({ after: this.attempts }, 'sql server connected');
      this.attempts = 0;
      for (const wake of this.waiters.splice(0)) wake();
      for (const listener of this.listeners) listener();
    } catch (err) {
      await pool.close().catch(() => undefined);
      if (this.attempts === 1)
        this.log.warn({ err: describe(err) }, 'sql server unavailable; retrying');
      if (this.attempts === 20)
        this.log.error({ attempts: this.attempts }, 'sql server still unreachable; retrying');
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, reconnectDelay(this.attempts));
    this.timer.unref();
  }

  /** A query failed in a way that means the connection is gone: reconnect. */
  down(err: unknown): void {
    if (!this.up) return;
    this.up = false;
    this.log.warn({ err: describe(err) }, 'sql server connection lost; reconnecting');
    const pool = this.pool;
    this.pool = undefined;
    void pool?.close().catch(() => undefined);
    this.attempts = 0;
    this.schedule();
  }

  request(): sql.Request {
    if (!this.connected || !this.pool)
      throw new AppError('unavailable', 'database unavailable; retry');
    return this.pool.request();
  }

  /** Runs `listener` every time the connection is (re)established. */
  onConnect(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Resolves when connected; the SQL Server suite waits on it before each test. */
  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async ping(): Promise<boolean> {
    try {
      await this.request().query(SQL.ping);
      return true;
    } catch (err) {
      if (isConnectionError(err)) this.down(err);
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const pool = this.pool;
    this.pool = undefined;
    this.up = false;
    await pool?.close().catch(() => undefined);
  }
}

/** Errors that mean the connection, not the statement, failed. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    err instanceof sql.ConnectionError ||
    code === 'ESOCKET' ||
    code === 'ECONNCLOSED' ||
    code === 'ETIMEOUT' ||
    code === 'ENOTOPEN' ||
    code === 'ECONNRESET'
  );
}

function describe(err: unknown): { message: string; code?: string } {
  const e = err as { message?: unknown; code?: unknown };
  return {
    message: typeof e.message === 'string' ? e.message : String(err),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
  };
}

/** Creates and upgrades the schema; safe when several nodes start at once. */
export async function migrate(pool: sql.ConnectionPool, log: Logger): Promise<void> {
  const exists = await pool.request().query<{ id: number | null }>(SQL.schemaTableId);
  if (exists.recordset[0]?.id == null)
    await tolerateExisting(pool.request().query(SQL.createSchemaTable));
  for (const migration of MIGRATIONS) {
    const current = await pool.request().query<{ version: number | null }>(SQL.schemaVersion);
    if ((current.recordset[0]?.version ?? 0) >= migration.version) continue;
    const tx = new sql.Transaction(pool);
    await tx.begin();
    try {
      for (const statement of migration.statements) await new sql.Request(tx).query(statement);
      await new sql.Request(tx)
        .input('version', sql.Int, migration.version)
        .query(SQL.recordVersion);
      await tx.commit();
      log.info({ version: migration.version }, 'sql schema upgraded');
    } catch (err) {
      await tx.rollback().catch(() => undefined);
      // Another node applied it first (object exists / duplicate version): fine.
      if (!isAlreadyApplied(err)) throw err;
    }
  }
}

function isAlreadyApplied(err: unknown): boolean {
  const number = (err as { number?: unknown; originalError?: { info?: { number?: unknown } } })
    .number;
  return number === 2714 || number === 2627;
}

async function tolerateExisting(query: Promise<unknown>): Promise<void> {
  try {
    await query;
  } catch (err) {
    if (!isAlreadyApplied(err)) throw err;
  }
}
