import pino from 'pino';
import { Archiver } from '../../services/archiver';
import { RedisBacklog } from '../../services/redis/backlog';
import { RedisDeadLetters } from '../../services/redis/dead-letters';
import { eventually } from '../helpers/eventually';
import { freshKeys, redisBus } from '../helpers/redis-bus';
import { MemoryArchive } from '../helpers/memory-archive';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { truncated } from '../helpers/sql-errors';

/**
 * The Redis engine's archive path with a real redis-server: messages published
 * through the real script land in the archive stream, two nodes' archivers take
 * them through the consumer group, and the writer (SQL Server's stand-in)
 * refuses one row for its data. That row must end in the shared dead letters and
 * everything after it must still be written: before, the batch was retried
 * forever, and every node that claimed it jammed in turn.
 */
describeWithRedis('poison rows on the Redis engine', () => {
  const log = pino({ level: 'silent' });
  const redis = useRedisServer(log);
  const client = redis.client;

  /** A node's bus on fresh keys, with every accepted message joining the archive stream. */
  const archivingBus = () => redisBus(redis, { keys: freshKeys('p'), archive: true });

  test('one poison entry is dead-lettered once, cluster-wide; later entries are still written', async () => {
    const { keys, cmd, bus } = await archivingBus();
    const archive = new MemoryArchive();
    // The 100-emoji sender SQL Server refused before the columns were widened.
    archive.refuse = (m) => (m.from.name.length > 100 ? truncated() : undefined);
    const deadLetters = new RedisDeadLetters(cmd, keys, 100);
    const counted = { a: 0, b: 0 };
    const node = async (name: 'a' | 'b') => {
      const backlog = new RedisBacklog(cmd, await client('archive'), keys, `node-${name}`, 5000);
      await backlog.start();
      return new Archiver(backlog, archive, {
        batchSize: 5,
        flushMs: 20,
        log,
        deadLetters,
        onDeadLetters: (added) => (counted[name] += added),
        delay: () => new Promise((resolve) => setTimeout(resolve, 10)),
      });
    };
    const a = await node('a');
    const b = await node('b');

    const from = { id: 'alice', name: 'Alice' };
    const sent = [];
    for (let i = 1; i <= 3; i++) sent.push(await bus.publish({ teamId: 'T', from, data: i }));
    const bad = await bus.publish({
      teamId: 'T',
      from: { id: 'emoji', name: '😀'.repeat(100) },
      data: 'poison',
    });
    for (let i = 5; i <= 12; i++) sent.push(await bus.publish({ teamId: 'T', from, data: i }));

    a.start();
    b.start();
    await eventually(() => archive.rows.size === 11, 10_000);
    expect([...archive.rows.values()].map((m) => m.seq).sort((x, y) => x - y)).toEqual(
      sent.map((m) => m.seq),
    );
    await eventually(async () => (await cmd.xlen(keys.archive())) === 0);
    const { deadLetters: letters } = await deadLetters.list({ limit: 10 });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      teamId: 'T',
      seq: bad.seq,
      message: { id: bad.id, data: 'poison', from: { id: 'emoji' } },
    });
    expect(letters[0]!.error).toMatch(/^2628: /);
    expect(counted.a + counted.b).toBe(1);
    // Neither node counts the poison row as an outage (db stays up in /api/ready).
    expect(a.healthy && b.healthy).toBe(true);

    await a.close();
    await b.close();
    await bus.close();
  });

  test('a batch with a poison row claimed from a dead node is sorted out by the claimer', async () => {
    const { keys, cmd, bus } = await archivingBus();
    const archive = new MemoryArchive();
    archive.refuse = (m) => (m.data === 'poison' ? truncated() : undefined);
    const deadLetters = new RedisDeadLetters(cmd, keys, 100);
    const dead = new RedisBacklog(cmd, await client('archive'), keys, 'node-dead', 50);
    await dead.start();
    const from = { id: 'alice', name: 'Alice' };
    for (const data of [1, 'poison', 3]) await bus.publish({ teamId: 'T', from, data });
    // The dead node took the batch and never acknowledged it.
    expect((await dead.take(10, 100)).messages).toHaveLength(3);

    const survivor = new Archiver(
      new RedisBacklog(cmd, await client('archive'), keys, 'node-b', 50),
      archive,
      { batchSize: 10, flushMs: 20, log, deadLetters },
    );
    survivor.start();
    await eventually(async () => (await cmd.xlen(keys.archive())) === 0, 10_000);
    expect([...archive.rows.values()].map((m) => m.data)).toEqual([1, 3]);
    expect((await deadLetters.list({ limit: 10 })).deadLetters.map((l) => l.message.data)).toEqual([
      'poison',
    ]);
    expect(survivor.healthy).toBe(true);
    await survivor.close();
    await bus.close();
  });
});
