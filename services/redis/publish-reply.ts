/**
 * The publish script's answer to its caller, in both languages: one text with a
 * line per message of the call, in message order, read in place. A batch holds
 * hundreds of messages; as nested arrays ({1, seq} per message) the answer cost
 * Redis a table per message to build and convert, and the publishing node an array
 * and a number per message to parse and collect. Only the node that made the call
 * reads it (the script's text names that node), so it is no part of the wire
 * between nodes.
 *
 * A line is one of:
 * - `<seq>`: published with that seq;
 * - `=<ref record>`: a repeated ref, the record of the message first sent with it
 *   (payload.ts);
 * - `!`: refused, the archive backlog is full;
 * - `-<error>`: refused, Redis refused one of the message's commands;
 * - `?`: not run, a call for a whole Redis Cluster master found its slot not served
 *   there as a whole (scripts.ts, GROUPED_LUA): it is for its slot's own call.
 * A newline cannot be in a seq or a ref record (message ids are UUIDs); the script
 * replaces any in an error's text.
 */

const REPEATED = '=';
const BACKLOG_FULL = '!';
const REFUSED = '-';
const NOT_HERE = '?';
const END = '\n';
const ZERO = '0'.charCodeAt(0);
const NINE = '9'.charCodeAt(0);

/** The constants above are plain ASCII, so their JSON spelling is a Lua string literal too. */
const lua = (text: string): string => JSON.stringify(text);

/**
 * The script's half: each message's answer is `published(seqText)`,
 * `repeated(record)`, `backlogFull()` or `refused(err)`, and `replyOf(answers)`
 * joins them.
 */
export const PUBLISH_REPLY_LUA = `
local function published(seqText) return seqText end
local function repeated(record) return ${lua(REPEATED)} .. record end
local function backlogFull() return ${lua(BACKLOG_FULL)} end
local function notHere() return ${lua(NOT_HERE)} end
local function refused(err)
  return ${lua(REFUSED)} .. (string.gsub(err, ${lua(END)}, ' '))
end
local function replyOf(answers) return table.concat(answers, ${lua(END)}) end
`;

export type PublishAnswer = 'published' | 'repeated' | 'backlog-full' | 'refused' | 'not-here';

/**
 * Reads a publish script's answer one message at a time, without an object per
 * message: `next()` says what became of the next message; its seq is then in `seq`
 * (published) and its text in `text()` (a ref record, an error). An answer that is
 * not a text, or runs out before the call's messages do, reads as `refused`.
 */
export class PublishReply {
  /** The seq of the message last read, when it was published. */
  seq = 0;
  private readonly reply: string;
  private at = 0;
  /** Where the text of the answer last read is; start above end: it had none readable. */
  private start = 0;
  private end = 0;

  constructor(reply: unknown) {
    this.reply = typeof reply === 'string' ? reply : '';
  }

  next(): PublishAnswer {
    const reply = this.reply;
    this.seq = 0;
    const start = this.at;
    let end = start > reply.length ? -1 : reply.indexOf(END, start);
    if (end < 0) end = reply.length;
    this.at = end + 1;
    this.start = start + 1;
    this.end = end;
    if (start >= end) return this.malformed();
    switch (reply[start]) {
      case REPEATED:
        return 'repeated';
      case BACKLOG_FULL:
        return 'backlog-full';
      case REFUSED:
        return 'refused';
      case NOT_HERE:
        return 'not-here';
    }
    let seq = 0;
    for (let i = start; i < end; i++) {
      const code = reply.charCodeAt(i);
      if (code < ZERO || code > NINE) return this.malformed();
      seq = seq * 10 + (code - ZERO);
    }
    // A bad seq would switch off gap and duplicate detection for the team.
    if (seq < 1 || !Number.isSafeInteger(seq)) return this.malformed();
    this.seq = seq;
    return 'published';
  }

  /** The text of the answer last read: the ref record, or the error. */
  text(): string {
    if (this.start > this.end) return 'no readable answer for the message';
    return this.reply.slice(this.start, this.end);
  }

  private malformed(): PublishAnswer {
    this.start = this.end + 1;
    return 'refused';
  }
}
