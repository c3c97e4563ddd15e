import { z } from 'zod';
import { AppError } from '../errors';
import { idSchema, nameSchema } from '../identifiers';
import { describeIssues, plainError } from '../plain-issues';
import { MAX_EPOCH_LENGTH, MAX_TOKEN_LENGTH } from '../../protocol/limits';

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
