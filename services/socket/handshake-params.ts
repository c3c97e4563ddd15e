import { z } from 'zod';
import { AppError } from '../errors';
import { idSchema, nameSchema } from '../identifiers';
import { describeIssues, safeParsePlain } from '../plain-issues';
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

/** Anything but printable ASCII, which HTTP request targets are made of. */
const UNUSUAL = /[^!-~]/;

/**
 * The query of a request target (`/socket?...`), read as `new URL(url, base).searchParams`
 * reads it (the fragment dropped) without parsing the rest of a URL per handshake.
 */
export function handshakeQuery(url: string): URLSearchParams {
  // URL trims spaces and controls and encodes non-ASCII text before reading the
  // query (URLSearchParams would misread escapes next to it): those take its way.
  if (UNUSUAL.test(url)) return new URL(url, 'http://x').searchParams;
  const hash = url.indexOf('#');
  const target = hash === -1 ? url : url.slice(0, hash);
  const start = target.indexOf('?');
  if (start === -1) return new URLSearchParams();
  const query = target.slice(start + 1);
  // The constructor drops a leading '?' of a string; the query's own is data. An
  // empty pair before it is skipped, as any is.
  return new URLSearchParams(query.startsWith('?') ? `&${query}` : query);
}

/** Parses `/socket?id=&name=&teamId=[&since=&epoch=][&token=]`; throws `bad_request`. */
export function parseHandshakeParams(search: URLSearchParams): HandshakeParams {
  const raw: Record<string, string> = {};
  for (const key of KNOWN) {
    const values = search.getAll(key);
    if (values.length > 1) throw new AppError('bad_request', `${key}: given more than once`);
    if (values.length === 1) raw[key] = values[0]!;
  }
  const parsed = safeParsePlain(schema, raw);
  if (!parsed.success) throw new AppError('bad_request', describeIssues(parsed.error));
  const p = parsed.data;
  const params: HandshakeParams = { id: p.id, name: p.name, teamId: p.teamId };
  if (p.since !== undefined) params.since = p.since;
  if (p.epoch !== undefined) params.epoch = p.epoch;
  if (p.token !== undefined) params.token = p.token;
  return params;
}
