import { z } from 'zod';
import {
  MAX_DATA_DEPTH,
  MAX_ID_LENGTH,
  MAX_NAME_CODE_POINTS,
  MAX_REF_LENGTH,
} from '../protocol/limits';
import { expecting } from './plain-issues';

/** User and team ids: 1-64 chars of A-Z a-z 0-9 _ . : @ - (docs/PROTOCOL.md §1). */
export const ID_RULE = `1 to ${MAX_ID_LENGTH} characters of A-Z a-z 0-9 _ . : @ -`;
export const idSchema = z
  .string({ error: expecting(ID_RULE) })
  .regex(new RegExp(`^[A-Za-z0-9_.:@-]{1,${MAX_ID_LENGTH}}$`), { error: expecting(ID_RULE) })
  .meta({ description: ID_RULE });

/** Display names: 1-100 characters (code points), any Unicode but control characters. */
const NAME_RULE = `a string of 1 to ${MAX_NAME_CODE_POINTS} characters`;
export const nameSchema = z
  .string({ error: expecting(NAME_RULE) })
  .refine(
    (s) => {
      const length = [...s].length;
      return length >= 1 && length <= MAX_NAME_CODE_POINTS;
    },
    { error: expecting(NAME_RULE) },
  )
  .refine((s) => !/\p{Cc}/u.test(s), {
    error: expecting(`${NAME_RULE} without control characters`),
  })
  // JSON Schema counts lengths in code points too, so these bounds say the same.
  .meta({
    description: `${NAME_RULE} (code points), no control characters`,
    minLength: 1,
    maxLength: MAX_NAME_CODE_POINTS,
    example: '张三',
  });

/** Client-chosen idempotency key. */
export const refSchema = z
  .string({ error: expecting(`a string of 1 to ${MAX_REF_LENGTH} characters`) })
  .min(1, { error: expecting(`a string of 1 to ${MAX_REF_LENGTH} characters`) })
  .max(MAX_REF_LENGTH, { error: expecting(`a string of 1 to ${MAX_REF_LENGTH} characters`) });

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
    `expected JSON nested at most ${MAX_DATA_DEPTH} levels deep`,
  )
  .meta({ description: `any JSON, nested at most ${MAX_DATA_DEPTH} levels deep` });

/** The refinement message for a required `data` (z.unknown() accepts a missing one). */
export const DATA_REQUIRED = 'missing; expected any JSON value';
