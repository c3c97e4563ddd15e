import type { z } from 'zod';

/**
 * Validation messages a person understands: each names the field and says what is
 * expected, in words, instead of zod's ("Invalid input: expected string, received
 * undefined"). Schemas with a rule of their own (ids, names, limits) carry it with
 * `expecting`; everything else is worded by `plainError` at parse time.
 */

type RawIssue = z.core.$ZodRawIssue;

/**
 * What a value is, in words, without echoing it (it may be long, or a secret);
 * undefined when words would not help (NaN: what a query string coerced badly).
 */
export function kindOf(value: unknown): string | undefined {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return undefined;
    return Number.isInteger(value) ? 'a number' : 'a fraction';
  }
  if (typeof value === 'string') return 'text';
  if (typeof value === 'boolean') return 'true/false';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
  // A required key whose schema accepts anything (z.unknown()): in a JSON body, any JSON.
  nonoptional: 'any JSON value',
};

/** "missing; expected …", "expected …, got a number" or "expected …". */
function expectedText(rule: string, issue: RawIssue): string {
  if (issue.input === undefined) return `missing; expected ${rule}`;
  const kind = issue.code === 'invalid_type' ? kindOf(issue.input) : undefined;
  return kind === undefined ? `expected ${rule}` : `expected ${rule}, got ${kind}`;
}

/** A schema's own error: every issue it raises says the one rule it follows. */
export function expecting(rule: string): (issue: RawIssue) => string {
  return (issue) => expectedText(rule, issue);
}

function bound(issue: RawIssue & { origin?: string }, n: number | bigint): string {
  const count = Number(n);
  switch (issue.origin) {
    case 'string':
      return `${count} character${count === 1 ? '' : 's'}`;
    case 'array':
    case 'set':
      return `${count} item${count === 1 ? '' : 's'}`;
    default:
      return String(count);
  }
}

/** Words for the issues no schema worded itself; passed as `{ error: plainError }`. */
export function plainError(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return expectedText(TYPE_WORDS[issue.expected] ?? issue.expected, issue);
    case 'too_small':
      return `expected ${issue.inclusive === false ? 'more than' : 'at least'} ${bound(issue, issue.minimum)}`;
    case 'too_big':
      return `expected ${issue.inclusive === false ? 'less than' : 'at most'} ${bound(issue, issue.maximum)}`;
    case 'invalid_format':
      return `has the wrong format`;
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'matches none of the allowed forms';
    default:
      return issue.message ?? 'is not valid';
  }
}

/** Made once: an options object per parse would be garbage on every call. */
const PLAIN = { error: plainError };

/**
 * `schema.safeParse(value, { error: plainError })`, with the same result. A value
 * that passes is parsed without options: in zod 4 any parse options make a parse
 * several times slower (a small object schema: about 3 µs with them, 0.4 µs
 * without), and the wording only matters when it fails. A failure is parsed again
 * with them, so its issues are worded as before.
 */
export function safeParsePlain<T extends z.ZodType>(
  schema: T,
  value: unknown,
): z.ZodSafeParseResult<z.output<T>> {
  const quick = schema.safeParse(value);
  return quick.success ? quick : schema.safeParse(value, PLAIN);
}

/**
 * One line for a failure, naming each field: "name: expected a string of 1 to 100
 * characters". Issues about the whole value are named `whole` (e.g. "body").
 */
export function describeIssues(error: z.ZodError, whole?: string): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : whole;
      return field === undefined ? issue.message : `${field}: ${issue.message}`;
    })
    .join('; ');
}
