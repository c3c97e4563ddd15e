import { once } from 'node:events';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createRedisClient, waitReady } from '../../services/redis/connection';
import { SentinelGroup } from '../../support/sentinel-group';
import { eventually } from '../helpers/eventually';
import { describeWithRedis } from '../helpers/redis-server';

/**
 * ioredis's failover detector (subscribed to +switch-master on every sentinel) ends
 * the connector's attempt under way when a failover is announced. If that attempt is
 * still asking a sentinel for the master, ioredis ends the client for good: the
 * node's subscriber stayed down, and /api/ready 503, until the node was restarted.
 */
describeWithRedis('a Sentinel client told of a failover while it asks a sentinel', () => {
  const log = pino({ level: 'silent' });
  let group: SentinelGroup;
  const clients: Redis[] = [];

  beforeAll(async () => {
    group = await SentinelGroup.start({ downAfterMs: 1000, failoverTimeoutMs: 3000 });
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await group?.stop();
  });

  test('connects to the new master by itself and hears what is published there', async () => {
    const sentinels = group.endpoints.split(',').map((endpoint) => {
      const [host, port] = endpoint.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port) };
    });
    // Made as the engine makes its subscriber.
    const sub = createRedisClient(
      { kind: 'sentinel', sentinels, name: group.name, tls: false },
      'sub',
      log,
      {
        enableOfflineQueue: true,
        commandTimeout: undefined,
      },
    );
    clients.push(sub);
    expect(await waitReady(sub, 5000)).toBe(true);
    await sub.subscribe('ch');
    const heard: string[] = [];
    sub.on('message', (_channel: string, text: string) => heard.push(text));

    // The test hears the failover announcement where the client's detector does.
    const watcher = new Redis(sentinels[1]!.port, '127.0.0.1');
    clients.push(watcher);
    await watcher.subscribe('+switch-master');
    const switched = once(watcher, 'message');

    // The client asks the first sentinel again after a lost connection; it hangs there.
    group.pauseSentinel(0);
    const master = await group.masterClient();
    await master.client('KILL', 'TYPE', 'pubsub');
    master.disconnect();
    await eventually(() => sub.status === 'connecting');

    await group.forceFailover(1);
    await switched;
    // Its detector has heard it too: the attempt under way is void, and the first
    // sentinel's answer ends it.
    await new Promise((resolve) => setImmediate(resolve));
    group.resumeSentinel(0);

    await eventually(() => sub.status === 'ready', 20_000).catch(() => {
      throw new Error(`the client stayed ${sub.status}`);
    });
    const newMaster = await group.masterClient();
    try {
      await eventually(async () => {
        await newMaster.publish('ch', 'after');
        return heard.includes('after');
      }, 20_000);
    } finally {
      newMaster.disconnect();
    }
  }, 60_000);
});
