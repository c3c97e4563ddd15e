import pino from 'pino';
import type { ArchivedMessage } from '../../services/archive';
import { Archiver } from '../../services/archiver';
import { MemoryBacklog } from '../../services/memory-backlog';
import { eventually } from '../helpers/eventually';
import { MemoryArchive } from '../helpers/memory-archive';

const log = pino({ level: 'silent' });

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

function setup(options: { batchSize?: number; flushMs?: number; max?: number } = {}) {
  const backlog = new MemoryBacklog(options.max ?? 1000);
  const archive = new MemoryArchive();
  const delays: number[] = [];
  const archiver = new Archiver(backlog, archive, {
    batchSize: options.batchSize ?? 10,
    flushMs: options.flushMs ?? 20,
    log,
    // No real backoff: each failed round just yields.
    delay: async (attempt) => {
      delays.push(attempt);
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
  return { backlog, archive, archiver, delays };
}

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
