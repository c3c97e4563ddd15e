import { Writable } from 'node:stream';
import pino from 'pino';
import type { ArchivedMessage } from '../../services/archive';
import { Archiver } from '../../services/archiver';
import { MemoryBacklog } from '../../services/memory/backlog';
import { MemoryDeadLetters } from '../../services/memory/dead-letters';
import { eventually } from '../helpers/eventually';
import { MemoryArchive } from '../helpers/memory-archive';
import {
  connectionLost,
  deadlock,
  duplicateKey,
  lockTimeout,
  missingTable,
  permissionDenied,
  truncated,
} from '../helpers/sql-errors';

function message(seq: number, teamId = 'A'): ArchivedMessage {
  return {
    id: `m${teamId}${seq}`,
    seq,
    teamId,
    from: { id: 'u', name: 'U' },
    data: seq,
    ts: seq,
    epoch: 'e1',
  };
}

function setup(
  options: { batchSize?: number; flushMs?: number; max?: number; deadLettersMax?: number } = {},
) {
  const backlog = new MemoryBacklog(options.max ?? 1000);
  const archive = new MemoryArchive();
  const deadLetters = new MemoryDeadLetters(options.deadLettersMax ?? 100);
  const delays: number[] = [];
  const counted = { added: 0, dropped: 0 };
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    }),
  );
  const archiver = new Archiver(backlog, archive, {
    batchSize: options.batchSize ?? 10,
    flushMs: options.flushMs ?? 20,
    log,
    deadLetters,
    onDeadLetters: (added, dropped) => {
      counted.added += added;
      counted.dropped += dropped;
    },
    // No real backoff: each failed round just yields.
    delay: async (attempt) => {
      delays.push(attempt);
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
  return { backlog, archive, archiver, delays, deadLetters, counted, lines };
}

const seqs = (messages: Iterable<{ seq: number }>) =>
  [...messages].map((m) => m.seq).sort((a, b) => a - b);

test('batches are bounded by rows', async () => {
  const { backlog, archive, archiver } = setup({ batchSize: 10, flushMs: 60_000 });
  for (let i = 1; i <= 25; i++) backlog.push(message(i));
  archiver.start();
  await eventually(() => archive.rows.size === 20);
  expect(archive.writes.map((w) => w.length)).toEqual([10, 10]);
  // The last 5 wait for a full batch or the flush time; shutting down writes them.
  await archiver.close();
  expect(archive.writes.map((w) => w.length)).toEqual([10, 10, 5]);
  expect(await backlog.length()).toBe(0);
});

test('batches are bounded by time: a lone message is written without a full batch', async () => {
  const { backlog, archive, archiver } = setup({ batchSize: 100, flushMs: 20 });
  archiver.start();
  backlog.push(message(1));
  await eventually(() => archive.rows.size === 1);
  expect(archive.writes).toEqual([[message(1)]]);
  await archiver.close();
});

test('a failing writer keeps the backlog and retries the same batch until it works, with backoff', async () => {
  const { backlog, archive, archiver, delays } = setup({ batchSize: 3 });
  archive.failing = new Error('sql down');
  for (let i = 1; i <= 5; i++) backlog.push(message(i));
  archiver.start();
  await eventually(() => delays.length >= 3);
  expect(archiver.healthy).toBe(false);
  expect(await backlog.length()).toBe(5);
  expect(archive.rows.size).toBe(0);
  // Increasing attempt numbers drive the capped backoff.
  expect(delays.slice(0, 3)).toEqual([1, 2, 3]);
  archive.failing = undefined;
  await eventually(() => archive.rows.size === 5);
  expect(archiver.healthy).toBe(true);
  expect(await backlog.length()).toBe(0);
  expect([...archive.rows.values()].map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  await archiver.close();
});

test('a batch written twice (ack lost) is stored once', async () => {
  const { backlog, archive, archiver } = setup({ batchSize: 5 });
  const ack = backlog.ack.bind(backlog);
  let failAck = true;
  backlog.ack = async (batch) => {
    if (failAck) {
      failAck = false;
      throw new Error('ack lost');
    }
    return ack(batch);
  };
  for (let i = 1; i <= 3; i++) backlog.push(message(i));
  archiver.start();
  await eventually(async () => (await backlog.length()) === 0);
  expect(archive.writes.length).toBe(2);
  expect(archive.rows.size).toBe(3);
  await archiver.close();
});

test('a full memory backlog says so, for the bus to refuse sends', () => {
  const backlog = new MemoryBacklog(2);
  backlog.push(message(1));
  expect(backlog.full).toBe(false);
  backlog.push(message(2));
  expect(backlog.full).toBe(true);
});

describe('poison rows', () => {
  test("a batch refused for some rows' data is split: good rows are written, bad rows go to dead letters", async () => {
    const { backlog, archive, archiver, deadLetters, counted } = setup({ batchSize: 10 });
    archive.refuse = (m) => (m.seq === 3 ? truncated() : m.seq === 8 ? duplicateKey() : undefined);
    for (let i = 1; i <= 10; i++) backlog.push(message(i));
    archiver.start();
    await eventually(async () => (await backlog.length()) === 0);
    expect(seqs(archive.rows.values())).toEqual([1, 2, 4, 5, 6, 7, 9, 10]);
    const { deadLetters: letters } = await deadLetters.list({ limit: 10 });
    expect(letters.map((l) => [l.seq, l.error.split(':')[0]])).toEqual([
      [3, '2628'],
      [8, '2627'],
    ]);
    expect(letters[0]).toMatchObject({
      teamId: 'A',
      epoch: 'e1',
      seq: 3,
      message: { id: 'mA3', seq: 3, teamId: 'A', from: { id: 'u', name: 'U' }, data: 3, ts: 3 },
    });
    expect(letters[0]!.message).not.toHaveProperty('epoch');
    expect(counted).toEqual({ added: 2, dropped: 0 });
    // A poison row is not an outage: the archive stays healthy (db stays up).
    expect(archiver.healthy).toBe(true);
    await archiver.close();
  });

  test('later batches are still written after a poison row', async () => {
    const { backlog, archive, archiver, deadLetters } = setup({ batchSize: 5 });
    archive.refuse = (m) => (m.seq === 1 ? truncated() : undefined);
    archiver.start();
    backlog.push(message(1));
    await eventually(async () => (await deadLetters.count()) === 1);
    for (let i = 2; i <= 12; i++) backlog.push(message(i));
    await eventually(() => archive.rows.size === 11);
    expect(seqs(archive.rows.values())).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    await archiver.close();
  });

  test('every row poison: each is dead-lettered alone, none written, the backlog moves on', async () => {
    const { backlog, archive, archiver, deadLetters } = setup({ batchSize: 4 });
    archive.refuse = () => truncated();
    for (let i = 1; i <= 4; i++) backlog.push(message(i));
    archiver.start();
    await eventually(async () => (await backlog.length()) === 0);
    expect(archive.rows.size).toBe(0);
    expect(seqs((await deadLetters.list({ limit: 10 })).deadLetters)).toEqual([1, 2, 3, 4]);
    await archiver.close();
  });

  test('the log line names ids, team, seq and error number, never the data or the server message', async () => {
    const { backlog, archive, archiver, lines } = setup({ batchSize: 3 });
    archive.refuse = (m) => (m.seq === 2 ? truncated() : undefined);
    backlog.push({ ...message(1), data: 'fine' });
    backlog.push({ ...message(2), data: { secret: 'do-not-log-me' } });
    archiver.start();
    await eventually(() =>
      lines.some(
        (l) => l['msg'] === 'archive refused a message for its data; moved to dead letters',
      ),
    );
    const line = lines.find((l) => l['level'] === 50)!;
    expect(line).toMatchObject({
      messageId: 'mA2',
      teamId: 'A',
      epoch: 'e1',
      seq: 2,
      sqlError: { number: 2628, code: 'EREQUEST' },
    });
    const text = JSON.stringify(lines);
    expect(text).not.toContain('do-not-log-me');
    // 2628's message quotes the refused value.
    expect(text).not.toContain('secret-data');
    await archiver.close();
  });

  test.each([
    ['a lost connection', connectionLost],
    ['a deadlock (1205)', deadlock],
    ['a lock timeout (1222)', lockTimeout],
  ])(
    '%s is an outage: the batch is kept and retried, nothing dead-lettered',
    async (_name, error) => {
      const { backlog, archive, archiver, deadLetters, delays } = setup({ batchSize: 5 });
      archive.failing = error();
      for (let i = 1; i <= 5; i++) backlog.push(message(i));
      archiver.start();
      await eventually(() => delays.length >= 3);
      expect(archiver.healthy).toBe(false);
      expect(await backlog.length()).toBe(5);
      expect(await deadLetters.count()).toBe(0);
      archive.failing = undefined;
      await eventually(() => archive.rows.size === 5);
      expect(await deadLetters.count()).toBe(0);
      expect(archiver.healthy).toBe(true);
      await archiver.close();
    },
  );

  test.each([
    ['a missing table (208)', missingTable],
    ['a denied permission (229)', permissionDenied],
  ])(
    '%s is about the statement: never a dead letter, the batch waits for the fix',
    async (_name, error) => {
      const { backlog, archive, archiver, deadLetters, delays } = setup({ batchSize: 5 });
      // Every row fails alike, as a statement error does.
      archive.refuse = () => error();
      for (let i = 1; i <= 5; i++) backlog.push(message(i));
      archiver.start();
      await eventually(() => delays.length >= 3);
      expect(await deadLetters.count()).toBe(0);
      expect(await backlog.length()).toBe(5);
      // Never split: the same whole batch is retried.
      expect(archive.attempts.every((a) => a.length === 5)).toBe(true);
      archive.refuse = undefined;
      await eventually(() => archive.rows.size === 5);
      expect(await deadLetters.count()).toBe(0);
      await archiver.close();
    },
  );

  test('an outage in the middle of a split keeps the whole batch; the split starts over', async () => {
    const { backlog, archive, archiver, deadLetters, delays } = setup({ batchSize: 8 });
    let outage = true;
    archive.refuse = (m) => {
      if (m.seq === 6) return truncated();
      // The database goes away after the first half was tried.
      if (outage && m.seq === 1 && archive.attempts.length > 1) return connectionLost();
      return undefined;
    };
    for (let i = 1; i <= 8; i++) backlog.push(message(i));
    archiver.start();
    await eventually(() => delays.length >= 1);
    expect(await backlog.length()).toBe(8);
    expect(await deadLetters.count()).toBe(0);
    outage = false;
    await eventually(async () => (await backlog.length()) === 0);
    expect(seqs(archive.rows.values())).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(seqs((await deadLetters.list({ limit: 10 })).deadLetters)).toEqual([6]);
    await archiver.close();
  });

  test('dead letters past the cap drop the oldest and say how many', async () => {
    const { backlog, archive, archiver, deadLetters, counted } = setup({
      batchSize: 5,
      deadLettersMax: 2,
    });
    archive.refuse = () => truncated();
    for (let i = 1; i <= 5; i++) backlog.push(message(i));
    archiver.start();
    await eventually(async () => (await backlog.length()) === 0);
    expect(seqs((await deadLetters.list({ limit: 10 })).deadLetters)).toEqual([4, 5]);
    expect(counted).toEqual({ added: 5, dropped: 3 });
    await archiver.close();
  });

  test('dead letters that cannot be stored are an outage: the batch is kept', async () => {
    const { backlog, archive, archiver, deadLetters, delays } = setup({ batchSize: 3 });
    const add = deadLetters.add.bind(deadLetters);
    let down = true;
    deadLetters.add = async (drafts) => {
      if (down) throw new Error('redis down');
      return add(drafts);
    };
    archive.refuse = (m) => (m.seq === 2 ? truncated() : undefined);
    for (let i = 1; i <= 3; i++) backlog.push(message(i));
    archiver.start();
    await eventually(() => delays.length >= 2);
    expect(await backlog.length()).toBe(3);
    down = false;
    await eventually(async () => (await backlog.length()) === 0);
    expect(seqs((await deadLetters.list({ limit: 10 })).deadLetters)).toEqual([2]);
    expect(seqs(archive.rows.values())).toEqual([1, 3]);
    await archiver.close();
  });
});
