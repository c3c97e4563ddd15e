import { ConfigError, loadConfig } from '../../app/config';

/** Runs loadConfig, expects a ConfigError and returns its message. */
export function configError(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}
