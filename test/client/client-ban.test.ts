import type { BanInfo } from '../../client/switchboard-client';
import { api, startTestServer, type TestServer } from '../helpers/server';
import { closeClients, record, until } from './harness';

let server: TestServer;

beforeEach(async () => {
  server = await startTestServer({ RATE_LIMIT_PER_S: '0' });
});

afterEach(async () => {
  closeClients();
  await server.close();
});

test('after a ban (4003) the client stops, says why, and does not reconnect', async () => {
  const rec = record(server.socketUrl, { id: 'mallory', teamId: 'T' });
  const bans: BanInfo[] = [];
  rec.client.on('banned', (b) => bans.push(b));
  await rec.client.connect();

  const res = await api(server, 'POST', '/api/bans', {
    body: { userId: 'mallory', teamId: 'T', seconds: 1 },
  });
  expect(res.status).toBe(201);
  await until(() => bans.length === 1);

  expect(bans).toEqual([{ code: 4003, reason: 'banned' }]);
  expect(rec.closes).toEqual([{ code: 4003, reason: 'banned', willReconnect: false }]);
  // A reconnecting client would be `reconnecting` here, with an attempt scheduled.
  expect(rec.client.state).toBe('closed');
  expect(rec.log).not.toContain('reconnecting');
  const send = await rec.client.send('still there?').catch((err: unknown) => err);
  expect(send).toMatchObject({ code: 'closed' });
});
