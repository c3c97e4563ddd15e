import { newLocalEpoch } from '../epoch';
import {
  pageLimit,
  type History,
  type HistoryPage,
  type Replay,
  type ReplayRequest,
} from '../history';
import { lostReplay, replayPage } from '../replay-page';
import { stampMessage, visibleTo, type Message, type MessageDraft, type TeamHead } from '../types';

interface TeamLog {
  seq: number;
  /** Retained messages; their seqs are contiguous and end at `seq`. */
  messages: Message[];
}

export interface MemoryHistoryOptions {
  /** Messages retained per team. */
  retain: number;
}

/**
 * The embedded engine's history. Everything lives in this process, so the epoch is
 * new for every process: a restart loses history and clients must not trust `since`.
 */
export class MemoryHistory implements History {
  readonly epoch = newLocalEpoch();
  private readonly teams = new Map<string, TeamLog>();

  constructor(private readonly options: MemoryHistoryOptions) {}

  /** Assigns the next seq and retains the message; only the memory bus calls this. */
  append(draft: MessageDraft): Message {
    let log = this.teams.get(draft.teamId);
    if (!log) {
      log = { seq: 0, messages: [] };
      this.teams.set(draft.teamId, log);
    }
    const message = stampMessage(draft, ++log.seq);
    log.messages.push(message);
    if (log.messages.length > this.options.retain) log.messages.shift();
    return message;
  }

  async head(teamId: string): Promise<TeamHead> {
    return { seq: this.teams.get(teamId)?.seq ?? 0, epoch: this.epoch };
  }

  async replay(teamId: string, request: ReplayRequest): Promise<Replay> {
    const log = this.teams.get(teamId);
    const head = { seq: log?.seq ?? 0, epoch: this.epoch };
    const { since, epoch, viewer } = request;
    if ((epoch !== undefined && epoch !== this.epoch) || since > head.seq) {
      return lostReplay(since, head);
    }
    const end = Math.min(request.until ?? head.seq, head.seq);
    const retained = log?.messages ?? [];
    const firstSeq = retained[0]?.seq ?? head.seq + 1;
    const limit = pageLimit(request);
    const start = Math.max(0, since + 1 - firstSeq);
    const stop = Math.min(retained.length, end + 1 - firstSeq, start + limit);
    const read = retained.slice(start, Math.max(start, stop));
    return replayPage({ since, end, firstSeq, read, limit, viewer, head });
  }

  async retainedFrom(teamId: string): Promise<number> {
    const log = this.teams.get(teamId);
    return log?.messages[0]?.seq ?? (log?.seq ?? 0) + 1;
  }

  async before(
    teamId: string,
    query: { before?: number; limit: number; viewer?: string },
  ): Promise<HistoryPage> {
    const retained = this.teams.get(teamId)?.messages ?? [];
    const page: Message[] = [];
    let more = false;
    for (let i = retained.length - 1; i >= 0; i--) {
      const message = retained[i]!;
      if (query.before !== undefined && message.seq >= query.before) continue;
      if (!visibleTo(message, query.viewer)) continue;
      if (page.length === query.limit) {
        more = true;
        break;
      }
      page.push(message);
    }
    return { messages: page.reverse(), more };
  }
}
