import type { Logger } from 'pino';
import type { Config } from './config';
import type { Engine } from './engine';
import { createMemoryEngine } from './memory-engine';

/**
 * The engine the config asks for: Redis when REDIS_URL is set, memory otherwise;
 * SQL Server with MSSQL_URL. The Redis and SQL Server parts are imported only when
 * asked for: `mssql` adds ~300 ms and `ioredis` ~150 ms to a start, and a restarted
 * node's clients wait for it (the reconnect storm).
 */
export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  const sql = config.sql
    ? await (await import('./sql-setup')).createSqlParts({ ...config, sql: config.sql }, log)
    : undefined;
  if (config.redis) {
    const { createRedisEngine } = await import('./redis-engine');
    return createRedisEngine({ ...config, redis: config.redis }, log, sql);
  }
  return createMemoryEngine(config, log, sql);
}
