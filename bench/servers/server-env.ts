/** The settings every bench server reads: the orchestrator passes PORT and HOST. */
export function serverEnv(): { port: number; host: string } {
  const port = Number(process.env['PORT']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    process.stderr.write(`bench server: PORT must be a port number (got ${process.env['PORT']})\n`);
    process.exit(1);
  }
  return { port, host: process.env['HOST'] ?? '127.0.0.1' };
}

/** The bench stops servers with SIGTERM; exiting through process.exit lets --cpu-prof write. */
export function exitOnSignals(): void {
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
}
