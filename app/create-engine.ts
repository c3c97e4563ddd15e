import type { Logger } from 'pino';
import type { Config } from './config';
import type { Engine } from './engine';
import { createMemoryEngine } from './memory-engine';
import { createRedisEngine } from './redis-engine';

/** The engine the config asks for: Redis when REDIS_URL is set, memory otherwise; SQL Server with MSSQL_URL. */
export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  // Loaded only when asked for: `mssql` adds ~300 ms to every start that has no SQL Server.
  const sql = config.sql
    ? await (await import('./sql-setup')).createSqlParts({ ...config, sql: config.sql }, log)
    : undefined;
  if (config.redis) return createRedisEngine({ ...config, redis: config.redis }, log, sql);
  return createMemoryEngine(config, log, sql);
}
