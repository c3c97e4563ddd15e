import type { z } from 'zod';
import { AppError } from '../services/errors';
import { describeIssues, safeParsePlain } from '../services/plain-issues';

/**
 * Parses input with a schema; a failure is a `bad_request` naming each field and
 * what it expects. `whole` names the value itself ("body") for issues about all of it.
 */
export function parse<T extends z.ZodType>(schema: T, value: unknown, whole?: string): z.output<T> {
  const result = safeParsePlain(schema, value);
  if (!result.success) throw new AppError('bad_request', describeIssues(result.error, whole));
  return result.data;
}
