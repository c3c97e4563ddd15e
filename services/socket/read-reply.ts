import { encodeFrame, messageView, type ClientFrame } from '../frames';
import type { History } from '../history';
import type { Presence } from '../presence';
import { textFrame } from './ws-frame';

/** The client frames that read rather than publish or (un)subscribe. */
export type ReadFrame = Exclude<
  ClientFrame,
  { type: 'team' | 'direct' | 'subscribe' | 'unsubscribe' }
>;

export interface Reader {
  /** The user reading: history holds back direct messages of others. */
  viewer: string;
  presence: Presence;
  history: History;
}

const PONG = textFrame(encodeFrame({ type: 'pong' }));

/**
 * The reply to a read about `teamId`, a team the connection follows: `members`,
 * `history` or `pong`. Rejects when a backend fails.
 */
export async function readReply(frame: ReadFrame, reader: Reader, teamId: string): Promise<Buffer> {
  const { viewer } = reader;
  switch (frame.type) {
    case 'presence':
      return textFrame(
        encodeFrame({
          type: 'members',
          teamId,
          members: await reader.presence.members(teamId),
        }),
      );
    case 'history': {
      const page = await reader.history.before(teamId, {
        limit: frame.limit,
        viewer,
        ...(frame.before === undefined ? {} : { before: frame.before }),
      });
      return textFrame(
        encodeFrame({
          type: 'history',
          teamId,
          messages: page.messages.map(messageView),
          more: page.more,
        }),
      );
    }
    case 'ping':
      return PONG;
  }
}
