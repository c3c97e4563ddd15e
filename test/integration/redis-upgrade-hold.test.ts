/**
 * The 101 response waits for the welcome so both leave in one write (Hub.holdUpgrade),
 * but only briefly: a set-up stuck on a Redis that does not answer must not hold the
 * client's handshake, and a set-up that fails before its welcome must still reach the
 * client with its close.
 */
import WebSocket from 'ws';
import { socketUrl, TestClient } from '../helpers/client';
import { describeWithRedis, RedisServer } from '../helpers/redis-server';
import { startTestServer, type TestServer } from '../helpers/server';

describeWithRedis('the 101 held for the welcome', () => {
  let own: RedisServer;
  let server: TestServer | undefined;
  const sockets: WebSocket[] = [];

  beforeEach(async () => {
    own = await RedisServer.start();
  });
  afterEach(async () => {
    own.resume();
    for (const ws of sockets.splice(0)) ws.terminate();
    await server?.close();
    server = undefined;
    await own.stop();
  });

  const open = (ws: WebSocket): Promise<void> =>
    new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });

  /** A server on this Redis, Redis paused, and a client connecting to the team. */
  const connectWhilePaused = async (commandTimeoutMs: string, teamId: string) => {
    server = await startTestServer({
      REDIS_URL: own.url,
      REDIS_COMMAND_TIMEOUT_MS: commandTimeoutMs,
    });
    own.pause();
    const ws = new WebSocket(socketUrl(server.socketUrl, { id: 'u1', teamId }));
    sockets.push(ws);
    return { ws, client: new TestClient(ws) };
  };

  test('opens while Redis does not answer, and the welcome follows once it does', async () => {
    const { ws, client } = await connectWhilePaused('20000', 'held');
    await open(ws);
    expect(client.frames).toEqual([]);
    own.resume();
    expect(await client.next('welcome')).toMatchObject({ teamId: 'held' });
  });

  test('a set-up that fails before its welcome still closes the client with 1011', async () => {
    const { client } = await connectWhilePaused('300', 'failed');
    expect(await client.waitClose()).toEqual({ code: 1011, reason: 'backend unavailable' });
    expect(client.frames).toEqual([]);
  });
});
