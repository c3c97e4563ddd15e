import type { z } from 'zod';
import { AppError } from '../services/errors';
import { describeIssues } from '../services/identifiers';

/** Parses input with a schema; a failure is a `bad_request` naming the field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new AppError('bad_request', describeIssues(result.error));
  return result.data;
}
