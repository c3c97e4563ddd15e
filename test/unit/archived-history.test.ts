import pino from 'pino';
import type { ArchiveReader } from '../../services/archive';
import { ArchivedHistory } from '../../services/archived-history';
import { REPLAY_PAGE_SIZE } from '../../services/history';
import { MemoryHistory } from '../../services/memory/history';
import type { Message, MessageDraft } from '../../services/types';
import { MemoryArchive } from '../helpers/memory-archive';
import { replayAll } from '../helpers/replay-all';

/** History that reaches past the engine's retention into the archive. */
function setup(retain: number) {
  const inner = new MemoryHistory({ retain });
  const archive = new MemoryArchive();
  const history = new ArchivedHistory(inner, archive, pino({ level: 'silent' }));
  const publish = async (
    draft: Omit<MessageDraft, 'teamId'>,
    archived = true,
  ): Promise<Message> => {
    const m = inner.append({ teamId: 'A', ...draft });
    if (archived) await archive.write([{ ...m, epoch: inner.epoch }]);
    return m;
  };
  return { inner, archive, history, publish };
}

const alice = { id: 'alice', name: 'Alice' };

test('a resume from before the retention is complete when the archive holds the gap', async () => {
  const { history, publish, inner } = setup(3);
  for (let i = 1; i <= 10; i++) await publish({ from: alice, data: i });
  const replay = await replayAll(history, 'A', { since: 2, epoch: inner.epoch, viewer: 'bob' });
  expect(replay.complete).toBe(true);
  expect(replay.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
});

test('it stays incomplete when the archive misses part of the gap', async () => {
  const { history, publish, inner } = setup(3);
  for (let i = 1; i <= 10; i++) await publish({ from: alice, data: i }, i !== 4);
  const replay = await replayAll(history, 'A', { since: 2, epoch: inner.epoch });
  expect(replay.complete).toBe(false);
  expect(replay.messages.map((m) => m.seq)).toEqual([3, 5, 6, 7, 8, 9, 10]);
});

test('direct messages hidden from the viewer still count as archived, and are not shown', async () => {
  const { history, publish, inner } = setup(2);
  await publish({ from: alice, data: 1 });
  await publish({ from: alice, to: 'carol', data: 'secret' });
  for (let i = 3; i <= 6; i++) await publish({ from: alice, data: i });
  const replay = await replayAll(history, 'A', { since: 0, epoch: inner.epoch, viewer: 'bob' });
  expect(replay.complete).toBe(true);
  expect(replay.messages.map((m) => m.seq)).toEqual([1, 3, 4, 5, 6]);
});

test('history pages continue from the engine into the archive', async () => {
  const { history, publish } = setup(3);
  for (let i = 1; i <= 10; i++) await publish({ from: alice, data: i });
  const first = await history.before('A', { limit: 4 });
  expect(first.messages.map((m) => m.seq)).toEqual([7, 8, 9, 10]);
  expect(first.more).toBe(true);
  const second = await history.before('A', { before: 7, limit: 4 });
  expect(second.messages.map((m) => m.seq)).toEqual([3, 4, 5, 6]);
  expect(second.more).toBe(true);
  const last = await history.before('A', { before: 3, limit: 4 });
  expect(last.messages.map((m) => m.seq)).toEqual([1, 2]);
  expect(last.more).toBe(false);
});

test('an unreadable archive falls back to what the engine holds', async () => {
  const { history, publish, archive, inner } = setup(3);
  for (let i = 1; i <= 6; i++) await publish({ from: alice, data: i });
  archive.failing = new Error('sql down');
  const replay = await replayAll(history, 'A', { since: 1, epoch: inner.epoch });
  expect(replay).toMatchObject({ complete: false });
  expect(replay.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
  const page = await history.before('A', { limit: 10 });
  expect(page.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
  // The page says it is only the engine's, so an admin is not told "that is all".
  expect(page.archive).toBe('down');
});

test('a page read from the archive, or not needing it, does not say it is down', async () => {
  const { history, publish } = setup(3);
  for (let i = 1; i <= 6; i++) await publish({ from: alice, data: i });
  expect((await history.before('A', { limit: 10 })).archive).toBeUndefined();
  expect((await history.before('A', { limit: 2 })).archive).toBeUndefined();
});

test('another epoch is never served from the archive', async () => {
  const { history, publish } = setup(3);
  for (let i = 1; i <= 6; i++) await publish({ from: alice, data: i });
  const replay = await replayAll(history, 'A', { since: 1, epoch: 'old-epoch' });
  expect(replay).toMatchObject({ messages: [], complete: false });
});

/** An ArchiveReader that notes what each `between` asked for and answered. */
class CountingReader implements ArchiveReader {
  readonly calls: { limit: number; rows: number }[] = [];
  constructor(private readonly inner: ArchiveReader) {}
  before: ArchiveReader['before'] = (...args) => this.inner.before(...args);
  between: ArchiveReader['between'] = async (...args) => {
    const rows = await this.inner.between(...args);
    this.calls.push({ limit: args[4], rows: rows.length });
    return rows;
  };
}

test('a resume over thousands of archived messages reads the archive a page at a time', async () => {
  const inner = new MemoryHistory({ retain: 100 });
  const archive = new MemoryArchive();
  const total = 5000;
  const batch = [];
  for (let i = 1; i <= total; i++) {
    batch.push({ ...inner.append({ teamId: 'A', from: alice, data: i }), epoch: inner.epoch });
  }
  await archive.write(batch);
  const reader = new CountingReader(archive);
  const history = new ArchivedHistory(inner, reader, pino({ level: 'silent' }));
  const replay = await replayAll(history, 'A', { since: 0, epoch: inner.epoch });
  expect(replay.complete).toBe(true);
  expect(replay.messages.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  expect(reader.calls.length).toBeGreaterThan(1);
  for (const call of reader.calls) {
    expect(call.limit).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
    expect(call.rows).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
  }
  for (const page of replay.pages) expect(page.read).toBeLessThanOrEqual(REPLAY_PAGE_SIZE);
});

test('a page asks the archive for no more than its own limit', async () => {
  const { inner, archive, publish } = setup(3);
  for (let i = 1; i <= 50; i++) await publish({ from: alice, data: i });
  const reader = new CountingReader(archive);
  const history = new ArchivedHistory(inner, reader, pino({ level: 'silent' }));
  const page = await history.replay('A', { since: 0, epoch: inner.epoch, limit: 7 });
  expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  expect(page).toMatchObject({ complete: true, through: 7, more: true, read: 7 });
  expect(reader.calls).toEqual([{ limit: 7, rows: 7 }]);
});

test('the archive page stops at until, not at what the engine holds', async () => {
  const { history, publish, inner } = setup(3);
  for (let i = 1; i <= 10; i++) await publish({ from: alice, data: i });
  const page = await history.replay('A', { since: 1, epoch: inner.epoch, until: 4 });
  expect(page.messages.map((m) => m.seq)).toEqual([2, 3, 4]);
  expect(page).toMatchObject({ complete: true, through: 4, more: false });
});

test('it is incomplete when the archive misses the end of the gap', async () => {
  const { history, publish, inner } = setup(3);
  for (let i = 1; i <= 10; i++) await publish({ from: alice, data: i }, i < 6);
  const replay = await replayAll(history, 'A', { since: 2, epoch: inner.epoch });
  expect(replay.complete).toBe(false);
  expect(replay.messages.map((m) => m.seq)).toEqual([3, 4, 5, 8, 9, 10]);
});
