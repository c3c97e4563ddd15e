import { z } from 'zod';
import {
  MAX_DATA_DEPTH,
  MAX_ID_LENGTH,
  MAX_NAME_CODE_POINTS,
  MAX_REF_LENGTH,
} from '../protocol/limits';

/** User and team ids: 1-64 chars of A-Z a-z 0-9 _ . : @ - (docs/PROTOCOL.md §1). */
export const idSchema = z
  .string()
  .regex(
    new RegExp(`^[A-Za-z0-9_.:@-]{1,${MAX_ID_LENGTH}}$`),
    `must be 1-${MAX_ID_LENGTH} chars of A-Z a-z 0-9 _ . : @ -`,
  );

/** Display names: 1-100 characters (code points), any Unicode but control characters. */
export const nameSchema = z
  .string()
  .refine((s) => {
    const length = [...s].length;
    return length >= 1 && length <= MAX_NAME_CODE_POINTS;
  }, `must be 1-${MAX_NAME_CODE_POINTS} characters`)
  .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters');

/** Client-chosen idempotency key. */
export const refSchema = z.string().min(1).max(MAX_REF_LENGTH);

/** Sequence numbers as they arrive in query strings and frames. */
export const seqSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * True when `value` nests arrays/objects deeper than `limit`. Iterative, so a
 * hostile value cannot overflow the stack here (JSON.stringify later would).
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Message data: any JSON, at most MAX_DATA_DEPTH levels deep. */
export const dataSchema = z
  .unknown()
  .refine(
    (v) => !nestedDeeperThan(v, MAX_DATA_DEPTH),
    `must not nest deeper than ${MAX_DATA_DEPTH} levels`,
  );

/** One line for a zod failure, naming the field: "to: must be 1-64 chars ...". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) =>
      issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    )
    .join('; ');
}
