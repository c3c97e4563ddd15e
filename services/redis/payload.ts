import type { ArchivedMessage } from '../archive';
import { toDelivery, type ClusterEvent, type Delivery } from '../bus';
import { encodeMessageFrame } from '../frames';
import type { Ack, Message } from '../types';

/**
 * What the Redis engine writes for other nodes to read, in both languages that
 * write it: the payloads nodes publish, and what the publish script (scripts.ts)
 * publishes and appends to streams. The script splices the seq and the epoch in,
 * so its half (PAYLOAD_LUA) is generated here from the constants this half reads with.
 *
 * On a team's channel:
 * - `M<epoch>|<seq>|<origin>|<to>|<fromId>|<json>`: a message. Ids hold no `|` and
 *   the json comes last, so a node routes on the header and sends the json on as
 *   the client frame without parsing it; `<origin>` and `<to>` are empty when absent.
 * - `B<epoch>` then, per message, `\n<seq>|<origin>|<to>|<fromId>|<json>`: the
 *   messages one publish call gave the team, in seq order, in one PUBLISH (a batch
 *   often holds several of a team's messages, and a PUBLISH costs Redis and every
 *   subscribed node about as much whatever its size). A newline cannot be in the
 *   json (JSON.stringify escapes it) nor in an id, so it ends each entry.
 * - `e<event json>`: a presence event.
 * - `m<epoch>|<message json>`: a message as nodes before the routing header
 *   published it; still read, so a rolling upgrade loses nothing on upgraded nodes.
 * On a node's channel: `k<connId>` (a kick), `c<nonce>` (a readiness canary).
 * Any other tag is a newer node's and is ignored.
 *
 * `<json>` is the `message` frame (frames.ts) less its `"type":"message",`. The
 * publishing node sends it in two parts, `{"id":…,"seq":` and `,"teamId":…}`, and
 * the script puts the seq between them.
 * A team's log entry (id `<seq>-0`): `m` the json, `o` the origin connId if any.
 * An archive backlog entry: `e` the epoch, `m` the json.
 * A ref record (the answer to a repeated ref): `<message id>:<seq>`.
 */

const MESSAGE = 'M';
const MESSAGES = 'B';
const ENTRY_END = '\n';
const LEGACY_MESSAGE = 'm';
const EVENT = 'e';
const KICK = 'k';
const CANARY = 'c';
const BAR = '|';
const REF_BAR = ':';
/** The frame is this, then the json less its opening `{`. */
const FRAME_OPEN = '{"type":"message",';
/** What comes right before the seq; the id before it is a JSON string, which holds no `,"`. */
const SEQ_KEY = ',"seq":';
/** Where the json's tail starts: right after the seq. */
const TAIL_START = ',"teamId":';
const LOG_FIELD = { json: 'm', origin: 'o' } as const;
const BACKLOG_FIELD = { epoch: 'e', json: 'm' } as const;

/** What comes before and after the id (a UUID: no escapes) in the json's head. */
const HEAD_ID_START = '{"id":"'.length;
const HEAD_ID_END = '"' + SEQ_KEY;

/** ARGV the publish script takes per message from pushMessageArgs. */
export const MESSAGE_ARGS = 3;

/** The constants above are plain ASCII, so their JSON spelling is a Lua string literal too. */
const lua = (text: string): string => JSON.stringify(text);

/**
 * The script's half: it reads a message's ARGV with `messageArgs(a)` (the
 * MESSAGE_ARGS of pushMessageArgs, from ARGV[a + 1]) and writes with the rest:
 * each of a team's messages in the call goes into its `newEntries()` with
 * `addEntry`, and `teamPayload` joins them. Redis's Lua hashes every byte of every
 * string it makes, so an entry is kept as its pieces (the json's head and tail
 * as they came, not the json made for the log), and only the payload is made
 * whole, in one table.concat: its [1] is kept for the tag and epoch, known once
 * the team's last message is in.
 */
export const PAYLOAD_LUA = `
local LOG_JSON, LOG_ORIGIN = ${lua(LOG_FIELD.json)}, ${lua(LOG_FIELD.origin)}
local BACKLOG_EPOCH, BACKLOG_JSON = ${lua(BACKLOG_FIELD.epoch)}, ${lua(BACKLOG_FIELD.json)}
local function messageArgs(a)
  local head, tail, routing = unpack(ARGV, a + 1, a + ${MESSAGE_ARGS})
  -- The origin is the routing's first field ('' for none): not sent twice.
  local bar = string.find(routing, ${lua(BAR)}, 1, true)
  return head, tail, routing, string.sub(routing, 1, bar - 1)
end
-- The message id, for a ref record, read off the json's head (not sent twice): a
-- UUID, which JSON spells as it is.
local function messageId(head)
  return string.sub(head, ${HEAD_ID_START + 1}, ${-HEAD_ID_END.length - 1})
end
local function messageJson(head, seq, tail)
  return head .. seq .. tail
end
local function newEntries()
  return {'', n = 1, count = 0}
end
local function addEntry(entries, seq, routing, head, tail)
  local n = entries.n
  if entries.count > 0 then
    n = n + 1
    entries[n] = ${lua(ENTRY_END)}
  end
  entries[n + 1] = seq
  entries[n + 2] = ${lua(BAR)}
  entries[n + 3] = routing
  entries[n + 4] = ${lua(BAR)}
  entries[n + 5] = head
  entries[n + 6] = seq
  entries[n + 7] = tail
  entries.n = n + 7
  entries.count = entries.count + 1
end
local function teamPayload(epoch, entries)
  if entries.count == 1 then
    entries[1] = ${lua(MESSAGE)} .. epoch .. ${lua(BAR)}
  else
    entries[1] = ${lua(MESSAGES)} .. epoch .. ${lua(ENTRY_END)}
  end
  return table.concat(entries, '', 1, entries.n)
end
local function refRecord(id, seq)
  return id .. ${lua(REF_BAR)} .. seq
end
`;

/** The json's head, `{"id":…,"seq":`, read off the frame: past its `"type"` and up to the seq. */
function jsonHead(frame: string): string {
  return '{' + frame.slice(FRAME_OPEN.length, frame.indexOf(SEQ_KEY) + SEQ_KEY.length);
}

function jsonTail(frame: string): string {
  return frame.slice(frame.indexOf(TAIL_START));
}

function routing(message: Message): string {
  return (message.origin ?? '') + BAR + (message.to ?? '') + BAR + message.from.id;
}

/**
 * Appends the message's MESSAGE_ARGS for the publish script: json head, json
 * tail, and routing (the script reads the origin off it, for the log entry, and the
 * id off the head, for a ref record). Appended, not returned, so a publish makes no
 * array per message.
 */
export function pushMessageArgs(args: (string | number)[], message: Message): void {
  // The frame is encoded once, here, and every node sends it on as it is.
  const frame = encodeMessageFrame(message);
  args.push(jsonHead(frame), jsonTail(frame), routing(message));
}

function messageEntry(message: Message): string {
  const seq = message.seq;
  const frame = encodeMessageFrame(message);
  return seq + BAR + routing(message) + BAR + jsonHead(frame) + seq + jsonTail(frame);
}

/**
 * The team channel payload the publish script makes of the messages one call
 * gave a team (in seq order), once it has their seqs and the team's epoch: what
 * `addEntry` and `teamPayload` in PAYLOAD_LUA give, which a test holds the script
 * to.
 */
export function encodeMessagesPayload(messages: readonly Message[], epoch: string): string {
  if (messages.length === 1) return MESSAGE + epoch + BAR + messageEntry(messages[0]!);
  return MESSAGES + epoch + ENTRY_END + messages.map(messageEntry).join(ENTRY_END);
}

/** The payload of a message alone of its team in its publish call. */
export function encodeMessagePayload(message: Message, epoch: string): string {
  return encodeMessagesPayload([message], epoch);
}

/** A kick goes to its node's channel, bans to the cluster channel, every other event to its team's. */
export function encodeEvent(event: ClusterEvent): string {
  return event.kind === 'kick' ? KICK + event.connId : EVENT + JSON.stringify(event);
}

export function encodeCanary(nonce: string): string {
  return CANARY + nonce;
}

/** An event on a team's channel, wrapped: its JSON is another node's, whatever keys it has. */
export interface TeamEvent {
  event: ClusterEvent;
}

/**
 * A payload on a team's channel: a message to deliver, several (in seq order),
 * an event, or undefined for a tag this node does not know. Throws on a
 * malformed message. Messages come unwrapped: they are the hot path, and a
 * Delivery is made here, never with an `event` key.
 */
export function decodeTeamPayload(
  teamId: string,
  payload: string,
): Delivery | Delivery[] | TeamEvent | undefined {
  switch (payload[0]) {
    case MESSAGE: {
      const bar = payload.indexOf(BAR);
      if (bar < 0) throw new Error('message payload without its routing header');
      return decodeEntry(teamId, payload.slice(1, bar), payload, bar + 1, payload.length);
    }
    case MESSAGES:
      return decodeMessages(teamId, payload);
    case EVENT:
      return { event: JSON.parse(payload.slice(1)) as ClusterEvent };
    case LEGACY_MESSAGE: {
      const bar = payload.indexOf(BAR);
      return toDelivery(JSON.parse(payload.slice(bar + 1)) as Message, payload.slice(1, bar));
    }
    default:
      return undefined;
  }
}

function decodeMessages(teamId: string, payload: string): Delivery[] {
  let at = payload.indexOf(ENTRY_END);
  if (at < 0) throw new Error('messages payload without a message');
  const epoch = payload.slice(1, at);
  const out: Delivery[] = [];
  while (at >= 0) {
    const next = payload.indexOf(ENTRY_END, at + 1);
    out.push(decodeEntry(teamId, epoch, payload, at + 1, next < 0 ? payload.length : next));
    at = next;
  }
  return out;
}

/** The entry `<seq>|<origin>|<to>|<fromId>|<json>` that is payload[start, end). */
function decodeEntry(
  teamId: string,
  epoch: string,
  payload: string,
  start: number,
  end: number,
): Delivery {
  const b2 = payload.indexOf(BAR, start);
  const b3 = payload.indexOf(BAR, b2 + 1);
  const b4 = payload.indexOf(BAR, b3 + 1);
  const b5 = payload.indexOf(BAR, b4 + 1);
  if (b2 < 0 || b3 < 0 || b4 < 0 || b5 < 0 || b5 >= end)
    throw new Error('message payload without its routing header');
  const origin = payload.slice(b2 + 1, b3);
  const to = payload.slice(b3 + 1, b4);
  const seq = Number(payload.slice(start, b2));
  // A bad seq would switch off gap and duplicate detection for the team.
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error('message payload with a bad seq');
  return {
    teamId,
    epoch,
    seq,
    origin: origin === '' ? undefined : origin,
    to: to === '' ? undefined : to,
    fromId: payload.slice(b4 + 1, b5),
    // Past the bar and the json's own `{`.
    frame: FRAME_OPEN + payload.slice(b5 + 2, end),
  };
}

/** An event on the cluster channel (bans and lifts); undefined for a tag this node does not know. */
export function decodeClusterPayload(payload: string): ClusterEvent | undefined {
  return payload[0] === EVENT ? (JSON.parse(payload.slice(1)) as ClusterEvent) : undefined;
}

/** What comes on a node's own channel. */
export type NodeSignal =
  Extract<ClusterEvent, { kind: 'kick' }> | { kind: 'canary'; nonce: string };

/** A payload on the channel of node `node`; undefined for a tag this node does not know. */
export function decodeNodePayload(node: string, payload: string): NodeSignal | undefined {
  switch (payload[0]) {
    case KICK:
      return { kind: 'kick', connId: payload.slice(1), node };
    case CANARY:
      return { kind: 'canary', nonce: payload.slice(1) };
    default:
      return undefined;
  }
}

export type StreamEntry = [id: string, fields: string[]];

/** A team's log entry: the message as clients see it, with its origin put back. */
export function decodeLogEntry(entry: StreamEntry): Message {
  const fields = entry[1];
  let json = '';
  let origin: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === LOG_FIELD.json) json = fields[i + 1]!;
    else if (fields[i] === LOG_FIELD.origin) origin = fields[i + 1]!;
  }
  const message = JSON.parse(json) as Message;
  if (origin !== undefined) message.origin = origin;
  return message;
}

export function decodeBacklogEntry(entry: StreamEntry): ArchivedMessage {
  const fields = entry[1];
  const get = (name: string) => fields[fields.indexOf(name) + 1]!;
  return {
    ...(JSON.parse(get(BACKLOG_FIELD.json)) as ArchivedMessage),
    epoch: get(BACKLOG_FIELD.epoch),
  };
}

export function decodeRefRecord(record: string): Ack {
  const at = record.lastIndexOf(REF_BAR);
  return { id: record.slice(0, at), seq: Number(record.slice(at + 1)) };
}
