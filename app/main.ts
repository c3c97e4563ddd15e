import pino from 'pino';
import { ConfigError, loadConfig, type Config } from './config';
import { createApp } from './create-app';
import { createEngine } from './create-engine';
import { startServer } from './start-server';

/** SIGTERM must end the process within 10 s even if a close step hangs. */
const EXIT_DEADLINE_MS = 9000;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: invalid config: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = pino({ level: config.node.logLevel, base: { node: config.node.id } });
  const engine = await createEngine(config, logger);
  const app = createApp({ config, engine, logger });
  const running = await startServer(app, config.http.port, config.http.host);

  logger.info(
    {
      port: running.port,
      host: config.http.host,
      engine: config.redis ? 'redis' : 'memory',
      // How Redis is reached and what an ack waits for; never the URL (it may hold a password).
      ...(config.redis
        ? { redis: config.redis.target.kind, ackReplicas: config.redis.ackReplicas }
        : {}),
      store: config.sql ? 'mssql' : 'engine',
    },
    'switchboard listening',
  );
  if (config.auth.adminTokenGenerated) {
    // Printed once, outside the structured logs, so it never lands in a log pipeline.
    process.stderr.write(
      `ADMIN_TOKEN is not set; the admin token for this run is: ${config.auth.adminToken}\n`,
    );
  }
  if (config.auth.authSecret === undefined) {
    logger.warn('AUTH_SECRET is not set: /socket accepts any id, name and teamId without a token');
  }

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, EXIT_DEADLINE_MS).unref();
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `switchboard: failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
