import type { Logger } from 'pino';
import type { Config } from './config';
import type { Engine } from './engine';
import { createMemoryEngine } from './memory-engine';
import { createRedisEngine } from './redis-engine';
import { createSqlParts } from './sql-setup';

/** The engine the config asks for: Redis when REDIS_URL is set, memory otherwise; SQL Server with MSSQL_URL. */
export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  const sql = config.sql ? await createSqlParts({ ...config, sql: config.sql }, log) : undefined;
  if (config.redis) return createRedisEngine({ ...config, redis: config.redis }, log, sql);
  return createMemoryEngine(config, log, sql);
}
