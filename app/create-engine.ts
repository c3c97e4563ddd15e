import type { Logger } from 'pino';
import type { Config } from './config';
import type { Engine } from './engine';
import { createMemoryEngine } from './memory-engine';
import { createRedisEngine } from './redis-engine';
import { createSqlParts } from './sql-setup';

/** The engine the config asks for: Redis when REDIS_URL is set, memory otherwise; SQL Server with MSSQL_URL. */
export async function createEngine(config: Config, log: Logger): Promise<Engine> {
  const sql = config.mssql
    ? await createSqlParts(
        {
          ...config.mssql,
          batchSize: config.archiveBatchSize,
          flushMs: config.archiveFlushMs,
        },
        log,
      )
    : undefined;
  if (config.redisUrl) {
    return createRedisEngine({
      url: config.redisUrl,
      keyPrefix: config.redisKeyPrefix,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      nodeId: config.nodeId,
      historySize: config.historySize,
      historyTtlSeconds: config.historyTtlSeconds,
      presenceLeaseMs: config.presenceLeaseMs,
      backlogMax: config.archiveBacklogMax,
      deadLettersMax: config.deadLettersMax,
      archiveFlushMs: config.archiveFlushMs,
      log,
      ...(sql ? { sql } : {}),
    });
  }
  return createMemoryEngine({
    historySize: config.historySize,
    log,
    backlogMax: config.archiveBacklogMax,
    deadLettersMax: config.deadLettersMax,
    ...(sql ? { sql } : {}),
  });
}
