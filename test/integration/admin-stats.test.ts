import type { LiveStats } from '../../services/stats-sampler';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { api, startTestServer, type TestServer } from '../helpers/server';

/** GET /api/stats, the live charts' data, on whichever engine the jest project runs. */
let server: TestServer;
const clients: TestClient[] = [];

beforeEach(async () => {
  server = await startTestServer({ STATS_INTERVAL_MS: '100', RATE_LIMIT_PER_S: '0' });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

const stats = async () => (await api<LiveStats>(server, 'GET', '/api/stats')).body;
const latest = (s: LiveStats, scope: 'node' | 'cluster') => s[scope].samples.at(-1);

test('needs the admin token', async () => {
  const res = await api(server, 'GET', '/api/stats', { token: null });
  expect(res.status).toBe(401);
});

test('samples levels and rates for the node and the cluster while messages flow', async () => {
  const a = await connect(server.socketUrl, { id: 'a', teamId: 'S1' });
  const b = await connect(server.socketUrl, { id: 'b', teamId: 'S1' });
  const c = await connect(server.socketUrl, { id: 'c', teamId: 'S2' });
  clients.push(a, b, c);
  const first = await stats();
  expect(first.intervalMs).toBe(100);
  expect(first.node.id).toBe('test-node');

  // Keep sending until a sample saw the traffic: rates are per interval.
  const seen = await eventually(async () => {
    a.send({ type: 'team', data: 'tick' });
    await a.next('ack');
    const now = await stats();
    const node = latest(now, 'node');
    const cluster = latest(now, 'cluster');
    return node !== undefined &&
      cluster !== undefined &&
      node.messagesPerS > 0 &&
      // On Redis a delivery follows its ack through pub/sub: it may fall in a later sample.
      node.deliveriesPerS > 0 &&
      cluster.messagesPerS > 0
      ? now
      : false;
  }, 10_000);
  const node = latest(seen, 'node')!;
  expect(node).toMatchObject({ connections: 3, teams: 2 });
  expect(latest(seen, 'cluster')).toMatchObject({ connections: 3 });
  expect(seen.cluster.nodes).toBe(1);
  // Points are in time order.
  const times = seen.node.samples.map((p) => p.at);
  expect([...times].sort((x, y) => x - y)).toEqual(times);
});
