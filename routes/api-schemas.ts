import { z } from 'zod';
import { errorCatalogue, type ErrorCode } from '../services/errors';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MAX_DATA_DEPTH } from '../protocol/limits';
import { DATA_REQUIRED, dataSchema, idSchema, nameSchema } from '../services/identifiers';
import { DEFAULT_BAN_SECONDS } from '../services/bans';
import { expecting } from '../services/plain-issues';

/**
 * The admin API's shapes: the request schemas the routes validate with, and the
 * answers they give. GET /api/openapi.json is generated from these same objects,
 * so the document cannot drift from what the server checks (docs/PROTOCOL.md §8).
 */

/** A query-string whole number in [min, max]; with `fallback`, optional. */
function wholeNumber(min: number, max: number) {
  const rule = `a whole number from ${min} to ${max}`;
  return z.coerce
    .number({ error: expecting(rule) })
    .int({ error: expecting(rule) })
    .min(min, { error: expecting(rule) })
    .max(max, { error: expecting(rule) });
}

const required = (v: { data?: unknown }) => v.data !== undefined;

// ---- requests ----

export const teamParams = z.object({ teamId: idSchema });

export const createTeamBody = z.object({ id: idSchema, name: nameSchema });

export const renameTeamBody = z.object({ name: nameSchema });

export const connectionsQuery = z.object({
  teamId: idSchema.optional(),
  userId: idSchema.optional(),
  limit: wholeNumber(1, 1000).default(100),
  cursor: z
    .string({ error: expecting('the `next` of the previous page') })
    .min(1, { error: expecting('the `next` of the previous page') })
    .max(256, { error: expecting('the `next` of the previous page') })
    .optional()
    .meta({ description: 'the `next` of the previous page' }),
});

export const connectionParams = z.object({
  connId: z
    .string()
    .min(1, { error: expecting('a connId of 1 to 64 characters') })
    .max(64, { error: expecting('a connId of 1 to 64 characters') }),
});

export const historyQuery = z.object({
  before: wholeNumber(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .meta({ description: 'messages with a smaller seq' }),
  // Larger limits are clamped rather than refused, like most paginated APIs.
  limit: z.coerce
    .number({ error: expecting('a whole number of at least 1') })
    .int({ error: expecting('a whole number of at least 1') })
    .min(1, { error: expecting('a whole number of at least 1') })
    .default(HISTORY_DEFAULT_LIMIT)
    .transform((n) => Math.min(n, HISTORY_MAX_LIMIT))
    .meta({ description: `default ${HISTORY_DEFAULT_LIMIT}, clamped to ${HISTORY_MAX_LIMIT}` }),
});

const userRef = z.object({ id: idSchema, name: nameSchema });

export const publishBody = z
  .object({ data: dataSchema, to: idSchema.optional(), from: userRef.optional() })
  .refine(required, { message: DATA_REQUIRED, path: ['data'] });

export const broadcastBody = z
  .object({ data: dataSchema })
  .refine(required, { message: DATA_REQUIRED, path: ['data'] });

export const deadLettersQuery = z.object({
  limit: wholeNumber(1, 1000).default(100),
  cursor: z
    .string({ error: expecting('the `next` of the previous page') })
    .min(1, { error: expecting('the `next` of the previous page') })
    .max(64, { error: expecting('the `next` of the previous page') })
    .optional(),
});

export const deadLetterParams = z.object({
  id: z
    .string()
    .min(1, { error: expecting('a dead letter id of 1 to 64 characters') })
    .max(64, { error: expecting('a dead letter id of 1 to 64 characters') }),
});

// ---- answers ----
// Strict objects: a field the server sends but the document does not declare fails
// the test that checks real answers against these.

const ERROR_CODES = Object.keys(errorCatalogue) as [ErrorCode, ...ErrorCode[]];

export const errorAnswer = z
  .strictObject({
    error: z.strictObject({ code: z.enum(ERROR_CODES), message: z.string() }),
  })
  .meta({ id: 'Error' });

export const healthAnswer = z.strictObject({ status: z.literal('ok') });

const check = z.enum(['up', 'down', 'disabled']);
export const readyAnswer = z.strictObject({
  status: z.enum(['ok', 'unavailable', 'draining']),
  checks: z.strictObject({ redis: check, db: check }),
});

const count = z.number().int().min(0);
const isoDate = z.iso.datetime({ offset: true });

export const teamAnswer = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    online: count.meta({ description: 'users online' }),
    connections: count.meta({ description: 'open sockets' }),
    createdAt: isoDate.nullable().meta({ description: 'null for a team only seen on a socket' }),
  })
  .meta({ id: 'Team' });

export const teamsAnswer = z.strictObject({ teams: z.array(teamAnswer) });

export const memberAnswer = z
  .strictObject({ id: z.string(), name: z.string(), connections: count })
  .meta({ id: 'Member' });

export const teamDetailAnswer = teamAnswer
  .extend({ members: z.array(memberAnswer) })
  .meta({ id: 'TeamDetail' });

export const connectionAnswer = z
  .strictObject({
    connId: z.string(),
    userId: z.string(),
    name: z.string(),
    teamId: z.string(),
    node: z.string(),
    ip: z.string(),
    connectedAt: isoDate,
    homeTeamId: z.string().optional().meta({
      description:
        'only on the row of a subscription (a team the connection follows besides its home team, `teamId` here): the home team',
    }),
  })
  .meta({ id: 'Connection' });

export const connectionsAnswer = z.strictObject({
  connections: z.array(connectionAnswer),
  next: z.string().nullable().meta({ description: 'cursor of the next page; null on the last' }),
});

const anyJson = z
  .unknown()
  .meta({ description: `any JSON, nested at most ${MAX_DATA_DEPTH} levels` });

export const messageAnswer = z
  .strictObject({
    id: z.string(),
    seq: z.number().int().min(1),
    teamId: z.string(),
    from: z.strictObject({ id: z.string(), name: z.string() }),
    to: z.string().optional().meta({ description: 'only on direct messages' }),
    data: anyJson,
    ts: z.number().int().meta({ description: 'ms since the Unix epoch' }),
  })
  .meta({ id: 'Message' });

/** Said when the archive (SQL Server) could not be read: the page holds only what the engine keeps. */
export const ARCHIVE_DOWN = 'down';

export const messagesAnswer = z.strictObject({
  messages: z.array(messageAnswer).meta({ description: 'oldest first' }),
  more: z.boolean().meta({ description: 'older messages exist' }),
  archive: z.literal(ARCHIVE_DOWN).optional().meta({
    description:
      'present when the archive (SQL Server) was not reached: the page holds only what the engine retains, and `more` speaks only for that',
  }),
});

export const ackAnswer = z.strictObject({ id: z.string(), seq: z.number().int().min(1) });

export const broadcastAnswer = z.strictObject({
  teams: count.meta({ description: 'teams published into' }),
});

export const deadLettersAnswer = z.strictObject({
  deadLetters: z.array(
    z
      .strictObject({
        id: z.string(),
        teamId: z.string(),
        epoch: z.string(),
        seq: z.number().int().min(1),
        error: z.string(),
        at: isoDate,
        message: messageAnswer,
      })
      .meta({ id: 'DeadLetter' }),
  ),
  next: z.string().nullable(),
});

/** Only its frame: what fills it is held to the router and the answers by a test. */
export const openApiAnswer = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

// Bans (docs/PROTOCOL.md §8)

/** A year: longer than that, a ban "until lifted" (0) says what is meant. */
export const MAX_BAN_SECONDS = 365 * 24 * 3600;

export const banBody = z.object({
  userId: idSchema,
  teamId: idSchema.optional().meta({ description: 'the team; without it, every team' }),
  seconds: z
    .number({ error: expecting(`a whole number of seconds, 0 to ${MAX_BAN_SECONDS}`) })
    .int({ error: expecting(`a whole number of seconds, 0 to ${MAX_BAN_SECONDS}`) })
    .min(0, { error: expecting(`a whole number of seconds, 0 to ${MAX_BAN_SECONDS}`) })
    .max(MAX_BAN_SECONDS, {
      error: expecting(`a whole number of seconds, 0 to ${MAX_BAN_SECONDS}`),
    })
    .default(DEFAULT_BAN_SECONDS)
    .meta({ description: `default ${DEFAULT_BAN_SECONDS}; 0: until lifted` }),
  reason: z
    .string({ error: expecting('a string of 1 to 200 characters') })
    .min(1, { error: expecting('a string of 1 to 200 characters') })
    .max(200, { error: expecting('a string of 1 to 200 characters') })
    .optional(),
});

export const liftParams = z.object({ userId: idSchema });
export const liftQuery = z.object({
  teamId: idSchema
    .optional()
    .meta({ description: 'lift the ban in this team; without it, the everywhere ban' }),
});

export const banAnswer = z
  .strictObject({
    userId: z.string(),
    teamId: z.string().nullable().meta({ description: 'null: every team' }),
    reason: z.string().nullable(),
    createdAt: isoDate,
    expiresAt: isoDate.nullable().meta({ description: 'null: until lifted' }),
  })
  .meta({ id: 'Ban' });

export const bansAnswer = z.strictObject({ bans: z.array(banAnswer) });

// Live charts (GET /api/stats)

const rate = z.number().min(0);
const liveSample = z
  .strictObject({
    at: z.number().int().meta({ description: 'ms since epoch' }),
    connections: count,
    teams: count,
    messagesPerS: rate,
    deliveriesPerS: rate,
  })
  .meta({ id: 'LiveSample' });

export const statsAnswer = z.strictObject({
  intervalMs: count,
  windowMs: count,
  node: z.strictObject({ id: z.string(), samples: z.array(liveSample) }),
  cluster: z.strictObject({
    nodes: count.meta({ description: 'nodes that reported within three intervals' }),
    samples: z.array(liveSample),
  }),
});

export const metricsAnswer = z.string().meta({ description: 'Prometheus text format' });
