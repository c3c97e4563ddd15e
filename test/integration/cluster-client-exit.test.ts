import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { kill9, killAll, manage } from '../../support/managed';
import { RedisCluster } from '../../support/redis-cluster';
import { describeWithRedis } from '../helpers/redis-server';
import { buildServerOnce } from '../helpers/build-server-once';

const root = join(__dirname, '..', '..');

/**
 * A process of its own, on the built client: it quits its cluster client from
 * inside the next periodic slot-map read, so that read ends after quit(). Nothing
 * else runs in it, so it exits once the client leaves nothing behind.
 */
const QUIT_DURING_A_READ = `
const { createRedisClient, waitReady } = require('./dist/services/redis/connection.js');
const pino = require('pino');
const c = createRedisClient(
  { kind: 'cluster', nodes: JSON.parse(process.argv[1]), tls: false },
  'command',
  pino({ level: 'silent' }),
);
waitReady(c, 30000).then((ready) => {
  if (!ready) {
    console.log('not ready');
    c.disconnect();
    return;
  }
  const read = c.refreshSlotsCache.bind(c);
  c.refreshSlotsCache = (done) => {
    c.refreshSlotsCache = read;
    read(done);
    void c.quit().then(() => console.log('quit during a read'));
  };
});
`;

/**
 * ioredis's own slotsRefreshInterval armed its timer again when a read in flight
 * at quit() ended, then read an empty pool every second for ever: a run of many
 * cluster tests in one process never exited (slot-map-refresh.ts).
 */
describeWithRedis('a cluster client quit during a slot-map read', () => {
  let cluster: RedisCluster | undefined;

  beforeAll(async () => {
    buildServerOnce();
    cluster = await RedisCluster.start(3);
  }, 120_000);

  afterAll(async () => {
    killAll();
    await cluster?.stop();
  });

  test('leaves nothing that keeps its process running', async () => {
    const child = spawn(
      process.execPath,
      ['-e', QUIT_DURING_A_READ, JSON.stringify(cluster!.endpoints)],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const process_ = manage(child);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    // Far longer than the read and quit take: a client that keeps reading never gets there.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'still running'>((resolve) => {
      timer = setTimeout(() => resolve('still running'), 15_000);
    });
    const outcome = await Promise.race([process_.exited, gaveUp]);
    clearTimeout(timer);
    await kill9(process_);
    expect(out.trim()).toBe('quit during a read');
    expect(outcome).toBe(0);
  }, 60_000);
});
