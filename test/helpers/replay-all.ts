import type { History, Replay, ReplayRequest } from '../../services/history';
import type { Message, TeamHead } from '../../services/types';

export interface WholeReplay {
  messages: Message[];
  complete: boolean;
  head: TeamHead;
  /** Every page as answered, in order. */
  pages: Replay[];
}

/**
 * Reads a replay page by page the way a resume does: the first page fixes the head,
 * the next ones ask for the same range from where the last one stopped.
 */
export async function replayAll(
  history: History,
  teamId: string,
  request: ReplayRequest,
): Promise<WholeReplay> {
  const pages: Replay[] = [];
  let page = await history.replay(teamId, request);
  pages.push(page);
  const { head } = page;
  const messages = [...page.messages];
  let complete = page.complete;
  while (page.more) {
    if (pages.length > 100_000) throw new Error('the replay never ends');
    page = await history.replay(teamId, {
      ...request,
      since: page.through,
      epoch: head.epoch,
      until: request.until ?? head.seq,
    });
    pages.push(page);
    messages.push(...page.messages);
    complete &&= page.complete;
  }
  return { messages, complete, head, pages };
}
