import { encodeFrame } from '../frames';
import type { History } from '../history';
import type { Hub, LocalConnection, Membership } from './hub';
import type { TeamHead } from '../types';
import { resumeReplay } from './resume-replay';
import { textFrame } from './ws-frame';

export interface GreetingOptions {
  heartbeatMs: number;
  /** The client's resume point (docs/PROTOCOL.md §4); undefined: no replay. */
  since: number | undefined;
  epoch: string | undefined;
  /** Stored messages a resume replays at most before it ends with complete:false. */
  resumeMaxMessages: number;
}

/**
 * What a new connection hears first, in this order: the welcome with the team's
 * head; on a resume, what it missed up to that head, then `resumed`; then the
 * frames that waited in its pending queue meanwhile. Resolves false when the
 * socket closed during the replay: nothing more should be written.
 */
export async function greet(
  history: History,
  hub: Hub,
  conn: LocalConnection,
  options: GreetingOptions,
  /** The head, read once the connection's subscription was confirmed; read here without it. */
  headRead?: Promise<TeamHead>,
): Promise<boolean> {
  const { info } = conn;
  const head = await (headRead ?? history.head(info.teamId));
  hub.write(
    conn,
    textFrame(
      encodeFrame({
        type: 'welcome',
        connId: info.connId,
        user: { id: info.userId, name: info.name },
        teamId: info.teamId,
        seq: head.seq,
        epoch: head.epoch,
        heartbeatMs: options.heartbeatMs,
      }),
    ),
  );
  return catchUp(history, hub, conn, head, options);
}

/**
 * The start of a subscription (docs/PROTOCOL.md §7), as a welcome is of a
 * connection: `subscribed` with the team's head, then as in greet.
 */
export async function greetSubscription(
  history: History,
  hub: Hub,
  sub: Membership,
  options: Omit<GreetingOptions, 'heartbeatMs'>,
): Promise<boolean> {
  const head = await history.head(sub.teamId);
  hub.write(
    sub.conn,
    textFrame(
      encodeFrame({ type: 'subscribed', teamId: sub.teamId, seq: head.seq, epoch: head.epoch }),
    ),
  );
  return catchUp(history, hub, sub, head, options);
}

/**
 * After the head went out: the replay on a resume, then `resumed`, then what
 * waited in the membership's pending queue.
 */
async function catchUp(
  history: History,
  hub: Hub,
  member: Membership,
  head: TeamHead,
  options: Omit<GreetingOptions, 'heartbeatMs'>,
): Promise<boolean> {
  // The replay ends at the head and stays in its epoch (a reset meanwhile makes it
  // incomplete). Live messages wait in the pending queue: those up to the head are
  // dropped at flush, those of a newer epoch come after an `epoch` frame.
  const { epoch, seq: covered } = head;
  hub.cover(member, epoch, covered);
  if (options.since !== undefined) {
    const replay = await resumeReplay(history, hub, member.conn, {
      teamId: member.teamId,
      viewer: member.info.userId,
      since: options.since,
      epoch: options.epoch,
      head,
      maxMessages: options.resumeMaxMessages,
    });
    if (!replay.open) return false;
    hub.write(
      member.conn,
      textFrame(
        encodeFrame({
          type: 'resumed',
          teamId: member.teamId,
          since: options.since,
          seq: covered,
          complete: replay.complete,
        }),
      ),
    );
  }
  hub.flush(member, epoch, covered);
  return true;
}
