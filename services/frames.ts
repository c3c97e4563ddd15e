/**
 * The codec of the wire protocol, whose types are protocol/frames.ts: zod parsing
 * of client frames here, held to those types at compile time, and the encoders of
 * server frames.
 */
import { z } from 'zod';
import type {
  ClientFrame as WireClientFrame,
  Message as WireMessage,
  ServerFrame,
} from '../protocol/frames';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MAX_EPOCH_LENGTH } from '../protocol/limits';
import { AppError } from './errors';
import { DATA_REQUIRED, dataSchema, idSchema, refSchema, seqSchema } from './identifiers';
import { describeIssues, safeParsePlain } from './plain-issues';
import type { Message } from './types';

const hasData = (frame: { data?: unknown }) => frame.data !== undefined;

const clientFrameSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('team'),
      data: dataSchema,
      ref: refSchema.optional(),
      teamId: idSchema.optional(),
    })
    .refine(hasData, { message: DATA_REQUIRED, path: ['data'] }),
  z
    .object({
      type: z.literal('direct'),
      to: idSchema,
      data: dataSchema,
      ref: refSchema.optional(),
      teamId: idSchema.optional(),
    })
    .refine(hasData, { message: DATA_REQUIRED, path: ['data'] }),
  z.object({ type: z.literal('presence'), teamId: idSchema.optional() }),
  z.object({
    type: z.literal('history'),
    before: seqSchema.optional(),
    // Larger limits are clamped rather than refused, like most paginated APIs.
    limit: z.number().int().min(1).optional(),
    teamId: idSchema.optional(),
  }),
  z.object({
    type: z.literal('subscribe'),
    teamId: idSchema,
    since: seqSchema.optional(),
    epoch: z.string().min(1).max(MAX_EPOCH_LENGTH).optional(),
  }),
  z.object({ type: z.literal('unsubscribe'), teamId: idSchema }),
  z.object({ type: z.literal('ping') }),
]);

/** True only when A and B are the same type (mutual assignability misses optional fields). */
type Same<A, B> =
  (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

/** Compiles only while the schema reads exactly the client frames of protocol/frames.ts. */
export type SchemaMatchesProtocol = Assert<
  Same<z.infer<typeof clientFrameSchema>, WireClientFrame>
>;

/** A client frame after parsing: as on the wire, with the history `limit` filled in and clamped. */
export type ClientFrame =
  | Exclude<WireClientFrame, { type: 'history' }>
  | { type: 'history'; before?: number; limit: number; teamId?: string };

function isObjectWithStringType(value: unknown): value is { type: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

/**
 * docs/PROTOCOL.md §4: text that is not a JSON object with a string `type` is a team
 * message carrying that text, so the seed's `ws.send('消息发送')` just works.
 * Text that opens like an object but is not valid JSON is refused instead of
 * being broadcast as garbage.
 */
export function parseClientFrame(text: string): ClientFrame {
  if (!text.trimStart().startsWith('{')) return { type: 'team', data: text };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('bad_request', 'malformed JSON');
  }
  if (!isObjectWithStringType(value)) return { type: 'team', data: text };
  const parsed = safeParsePlain(clientFrameSchema, value);
  if (!parsed.success) {
    const unknownType = parsed.error.issues.some(
      (i) => i.code === 'invalid_union' && i.path[0] === 'type',
    );
    throw new AppError(
      'bad_request',
      unknownType
        ? `unknown frame type "${value.type.slice(0, 32)}"`
        : describeIssues(parsed.error),
    );
  }
  const frame = parsed.data;
  const team = frame.type !== 'ping' && frame.teamId !== undefined ? { teamId: frame.teamId } : {};
  switch (frame.type) {
    case 'team':
      return {
        type: 'team',
        data: frame.data,
        ...(frame.ref === undefined ? {} : { ref: frame.ref }),
        ...team,
      };
    case 'direct':
      return {
        type: 'direct',
        to: frame.to,
        data: frame.data,
        ...(frame.ref === undefined ? {} : { ref: frame.ref }),
        ...team,
      };
    case 'history':
      return {
        type: 'history',
        ...(frame.before === undefined ? {} : { before: frame.before }),
        limit: Math.min(frame.limit ?? HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT),
        ...team,
      };
    case 'subscribe':
      return {
        type: 'subscribe',
        teamId: frame.teamId,
        ...(frame.since === undefined ? {} : { since: frame.since }),
        ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }),
      };
    case 'unsubscribe':
      return { type: 'unsubscribe', teamId: frame.teamId };
    case 'presence':
      return { type: 'presence', ...team };
    default:
      return { type: frame.type };
  }
}

/** A message as clients see it, in history lists and REST answers. */
export type MessageView = WireMessage;

export function messageView(m: Message): MessageView {
  return {
    id: m.id,
    seq: m.seq,
    teamId: m.teamId,
    from: m.from,
    ...(m.to === undefined ? {} : { to: m.to }),
    data: m.data,
    ts: m.ts,
  };
}

/**
 * The `message` frame, encoded once per message per node. Written out by hand
 * because it is the hot path: the text is exactly what
 * `JSON.stringify({ type: 'message', ...messageView(m) })` gives (a unit test holds
 * it to that), without the two intermediate objects.
 */
export function encodeMessageFrame(m: Message): string {
  let json = `{"type":"message","id":${JSON.stringify(m.id)},"seq":${m.seq},"teamId":${JSON.stringify(m.teamId)},"from":{"id":${JSON.stringify(m.from.id)},"name":${JSON.stringify(m.from.name)}}`;
  if (m.to !== undefined) json += `,"to":${JSON.stringify(m.to)}`;
  // JSON.stringify leaves out a property whose value is undefined; so does this.
  const data: string | undefined = JSON.stringify(m.data);
  if (data !== undefined) json += `,"data":${data}`;
  return `${json},"ts":${JSON.stringify(m.ts)}}`;
}

/** The `ack` frame, by hand for the same reason; equal to encodeFrame's output. */
export function encodeAck(ref: string | undefined, id: string, seq: number): string {
  const head = ref === undefined ? '{"type":"ack"' : `{"type":"ack","ref":${JSON.stringify(ref)}`;
  return `${head},"id":${JSON.stringify(id)},"seq":${seq}}`;
}

export function encodeFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}
