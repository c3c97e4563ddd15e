import { z } from 'zod';
import { AppError } from '../errors';
import { idSchema, nameSchema } from '../identifiers';
import { describeIssues, plainError } from '../plain-issues';
import {
  MAX_EPOCH_LENGTH,
  MAX_ID_LENGTH,
  MAX_NAME_CODE_POINTS,
  MAX_TOKEN_LENGTH,
} from '../../protocol/limits';

export interface HandshakeParams {
  id: string;
  name: string;
  teamId: string;
  since?: number;
  epoch?: string;
  token?: string;
}

const schema = z.object({
  id: idSchema,
  name: nameSchema,
  teamId: idSchema,
  since: z
    .string()
    .regex(/^\d{1,15}$/, 'expected a whole number of 1 to 15 digits')
    .transform(Number)
    .optional(),
  epoch: z.string().min(1).max(MAX_EPOCH_LENGTH).optional(),
  token: z.string().min(1).max(MAX_TOKEN_LENGTH).optional(),
});

const KNOWN = ['id', 'name', 'teamId', 'since', 'epoch', 'token'] as const;

/** Parses `/socket?id=&name=&teamId=[&since=&epoch=][&token=]`; throws `bad_request`. */
export function parseHandshakeParams(search: URLSearchParams): HandshakeParams {
  const raw: Record<string, string> = {};
  for (const key of KNOWN) {
    const values = search.getAll(key);
    if (values.length > 1) throw new AppError('bad_request', `${key}: given more than once`);
    if (values.length === 1) raw[key] = values[0]!;
  }
  return acceptedParams(raw) ?? schemaParams(raw);
}

/** The params as the schema reads them; throws `bad_request` with its wording. */
export function schemaParams(raw: Record<string, string>): HandshakeParams {
  const parsed = schema.safeParse(raw, { error: plainError });
  if (!parsed.success) throw new AppError('bad_request', describeIssues(parsed.error));
  const p = parsed.data;
  return {
    id: p.id,
    name: p.name,
    teamId: p.teamId,
    ...(p.since === undefined ? {} : { since: p.since }),
    ...(p.epoch === undefined ? {} : { epoch: p.epoch }),
    ...(p.token === undefined ? {} : { token: p.token }),
  };
}

const ID = new RegExp(`^[A-Za-z0-9_.:@-]{1,${MAX_ID_LENGTH}}$`);
const SINCE = /^\d{1,15}$/;
const CONTROL = /\p{Cc}/u;

function nameAccepted(name: string): boolean {
  // Code points, as nameSchema counts them; a UTF-16 length within bounds settles most.
  const length = name.length <= MAX_NAME_CODE_POINTS ? name.length : [...name].length;
  return length >= 1 && length <= MAX_NAME_CODE_POINTS && !CONTROL.test(name);
}

const within = (value: string | undefined, max: number) =>
  value === undefined || (value.length >= 1 && value.length <= max);

/**
 * The schema's rules checked by hand, for the handshake of every connection: zod
 * cost 2-4 % of a connect storm's CPU. Undefined when anything is off, and the
 * schema then gives the refusal its wording (test/unit/handshake-params.test.ts
 * checks that both accept exactly the same params).
 */
export function acceptedParams(raw: Record<string, string>): HandshakeParams | undefined {
  const { id, name, teamId, since, epoch, token } = raw;
  if (id === undefined || teamId === undefined || name === undefined) return undefined;
  if (!ID.test(id) || !ID.test(teamId) || !nameAccepted(name)) return undefined;
  if (since !== undefined && !SINCE.test(since)) return undefined;
  if (!within(epoch, MAX_EPOCH_LENGTH) || !within(token, MAX_TOKEN_LENGTH)) return undefined;
  return {
    id,
    name,
    teamId,
    ...(since === undefined ? {} : { since: Number(since) }),
    ...(epoch === undefined ? {} : { epoch }),
    ...(token === undefined ? {} : { token }),
  };
}
