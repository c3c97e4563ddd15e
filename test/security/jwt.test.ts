/**
 * Security review, JWT (docs/PROTOCOL.md §1), end to end over real handshakes. Already
 * covered elsewhere and not repeated here: wrong sub/team/name, expired, HS512,
 * another secret, garbage (test/integration/socket-handshake.test.ts), and every
 * claim rule of verifySocketToken (test/unit/jwt.test.ts). This file adds the
 * forgeries an attacker would try first against the running server.
 */
import { generateKeyPair, exportJWK, SignJWT, UnsecuredJWT } from 'jose';
import { connect, refusedHandshake, socketUrl, type TestClient } from '../helpers/client';
import { api, startTestServer, type TestServer } from '../helpers/server';

const SECRET = 'security-review-secret-at-least-32-chars';
const key = new TextEncoder().encode(SECRET);
const params = { id: 'u1', name: 'Ann', teamId: 'A' };
const inFiveMinutes = () => Math.floor(Date.now() / 1000) + 300;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let server: TestServer;
const clients: TestClient[] = [];

beforeEach(async () => {
  server = await startTestServer({ AUTH_SECRET: SECRET });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

const valid = () =>
  new SignJWT({ sub: 'u1', team: 'A' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(inFiveMinutes())
    .sign(key);

async function expect401(token: string): Promise<void> {
  const { status, body } = await refusedHandshake(
    socketUrl(server.socketUrl, { ...params, token }),
  );
  expect(status).toBe(401);
  expect(JSON.parse(body)).toEqual({
    error: { code: 'unauthorized', message: expect.any(String) },
  });
  expect(server.app.hub.size).toBe(0);
}

test('the valid token used below is accepted (so the refusals are about the forgery)', async () => {
  clients.push(await connect(server.socketUrl, { ...params, token: await valid() }));
});

describe('forged tokens get 401 and no socket', () => {
  test('alg none, as jose encodes it', async () => {
    await expect401(
      new UnsecuredJWT({ sub: 'u1', team: 'A' }).setExpirationTime(inFiveMinutes()).encode(),
    );
  });

  test('a valid token with its header swapped for alg none and the signature dropped', async () => {
    const [, payload] = (await valid()).split('.');
    await expect401(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`);
  });

  test('a valid signature over another payload (sub changed after signing)', async () => {
    const [header, , signature] = (await valid()).split('.');
    const payload = b64({ sub: 'u1', team: 'A', exp: inFiveMinutes(), admin: true });
    await expect401(`${header}.${payload}.${signature}`);
  });

  test('RS256 signed by the attacker, with the public key embedded in the header (jwk)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ sub: 'u1', team: 'A' })
      .setProtectedHeader({ alg: 'RS256', jwk: await exportJWK(publicKey) })
      .setExpirationTime(inFiveMinutes())
      .sign(privateKey);
    await expect401(token);
  });

  test('HS256 with the secret as the attacker guesses it (empty, or the id)', async () => {
    for (const guess of ['', 'u1', SECRET.slice(0, -1)]) {
      const token = await new SignJWT({ sub: 'u1', team: 'A' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(inFiveMinutes())
        .sign(new TextEncoder().encode(guess));
      await expect401(token);
    }
  });

  test('no exp at all (a token that would never expire)', async () => {
    await expect401(
      await new SignJWT({ sub: 'u1', team: 'A' }).setProtectedHeader({ alg: 'HS256' }).sign(key),
    );
  });

  test('not valid yet (nbf in the future)', async () => {
    const token = await new SignJWT({ sub: 'u1', team: 'A' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(inFiveMinutes())
      .setNotBefore(inFiveMinutes() - 60)
      .sign(key);
    await expect401(token);
  });

  test('a token passed twice in the query (one valid, one not) is refused, not picked from', async () => {
    const url = `${socketUrl(server.socketUrl, { ...params, token: await valid() })}&token=x`;
    const { status } = await refusedHandshake(url);
    expect(status).toBe(400);
  });
});

test('an active socket whose token expires is closed with 1008 and its later frames publish nothing', async () => {
  await server.close();
  // A 1 s beat, not 100 ms: server and client share this process, and a beat drops a
  // connection whose pong it has not read yet, so a loop stall closed it with 1006.
  server = await startTestServer({ AUTH_SECRET: SECRET, HEARTBEAT_MS: '1000' });
  // At least 3 s ahead: the handshake must happen before it expires, even when slow.
  const short = await new SignJWT({ sub: 'u1', team: 'A' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.ceil(Date.now() / 1000) + 3)
    .sign(key);
  const client = await connect(server.socketUrl, { ...params, token: short });
  clients.push(client);
  // Keeps talking: being busy does not extend a token.
  const timer = setInterval(() => {
    if (client.ws.readyState === client.ws.OPEN) client.send({ type: 'team', data: 'still here' });
  }, 50);
  try {
    expect((await client.waitClose(15_000)).code).toBe(1008);
  } finally {
    clearInterval(timer);
  }
  const acked = client.frames.filter((f) => f.type === 'ack').length;
  const history = await api<{ messages: unknown[] }>(
    server,
    'GET',
    '/api/teams/A/messages?limit=200',
  );
  expect(history.body.messages).toHaveLength(acked);
});
