import {
  deadLetterBody,
  type DeadLetter,
  type DeadLetterDraft,
  type DeadLetterPage,
  type DeadLetters,
} from '../dead-letters';
import { AppError } from '../errors';

/** Dead letters of the embedded engine: in this process, bounded by `max`. */
export class MemoryDeadLetters implements DeadLetters {
  /** Insertion order is id order, oldest first. */
  private readonly letters = new Map<number, DeadLetter>();
  private lastId = 0;

  constructor(private readonly max: number) {}

  async add(drafts: DeadLetterDraft[]): Promise<number> {
    const at = new Date().toISOString();
    for (const draft of drafts) {
      const id = ++this.lastId;
      this.letters.set(id, { id: String(id), ...deadLetterBody(draft, at) });
    }
    let dropped = 0;
    for (const id of this.letters.keys()) {
      if (this.letters.size <= this.max) break;
      this.letters.delete(id);
      dropped++;
    }
    return dropped;
  }

  async list(page: { limit: number; cursor?: string }): Promise<DeadLetterPage> {
    let after = 0;
    if (page.cursor !== undefined) {
      if (!/^\d{1,15}$/.test(page.cursor)) throw new AppError('bad_request', 'malformed cursor');
      after = Number(page.cursor);
    }
    const deadLetters: DeadLetter[] = [];
    let more = false;
    for (const [id, letter] of this.letters) {
      if (id <= after) continue;
      if (deadLetters.length === page.limit) {
        more = true;
        break;
      }
      deadLetters.push(letter);
    }
    return { deadLetters, next: more ? deadLetters[deadLetters.length - 1]!.id : null };
  }

  async remove(id: string): Promise<boolean> {
    return /^\d{1,15}$/.test(id) && this.letters.delete(Number(id));
  }

  async count(): Promise<number> {
    return this.letters.size;
  }
}
