import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { AppError } from '../../services/errors';
import { verifySocketToken } from '../../services/jwt';

const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
const otherSecret = new TextEncoder().encode('fedcba9876543210fedcba9876543210');
const expected = { id: 'alice', teamId: 'team-1', name: '张三' };

/** Seconds since epoch, an hour away from now so no test depends on timing. */
const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;
const oneHourAgo = () => Math.floor(Date.now() / 1000) - 3600;

async function sign(
  claims: JWTPayload,
  options: { alg?: string; key?: Uint8Array; exp?: number | null } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256' });
  const exp = options.exp === undefined ? inOneHour() : options.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(options.key ?? secret);
}

async function refusal(token: string, against = expected): Promise<AppError> {
  try {
    await verifySocketToken(token, secret, against);
  } catch (err) {
    if (err instanceof AppError) {
      expect(err.code).toBe('unauthorized');
      expect(err.status).toBe(401);
      return err;
    }
    throw err;
  }
  throw new Error('expected unauthorized, the token was accepted');
}

describe('verifySocketToken', () => {
  test('a valid token returns its expiry in ms', async () => {
    const exp = inOneHour();
    const token = await sign({ sub: 'alice', team: 'team-1' }, { exp });
    await expect(verifySocketToken(token, secret, expected)).resolves.toEqual({
      expiresAt: exp * 1000,
      teams: [],
    });
  });

  test('the teams claim lists the other teams the socket may follow', async () => {
    const token = await sign({ sub: 'alice', team: 'team-1', teams: ['t2', 't3'] });
    const claims = await verifySocketToken(token, secret, expected);
    expect(claims.teams).toEqual(['t2', 't3']);
  });

  test('a teams claim that is not an array of ids is refused', async () => {
    const token = await sign({ sub: 'alice', team: 'team-1', teams: 't2' });
    await refusal(token);
  });

  test('a valid token with a matching name', async () => {
    const exp = inOneHour();
    const token = await sign({ sub: 'alice', team: 'team-1', name: '张三' }, { exp });
    const claims = await verifySocketToken(token, secret, expected);
    expect(claims.expiresAt).toBe(exp * 1000);
  });

  test('an expired token: "token expired"', async () => {
    const token = await sign({ sub: 'alice', team: 'team-1' }, { exp: oneHourAgo() });
    expect((await refusal(token)).message).toBe('token expired');
  });

  test('a token signed with another secret', async () => {
    const token = await sign({ sub: 'alice', team: 'team-1' }, { key: otherSecret });
    const err = await refusal(token);
    expect(err.message).not.toBe('token expired');
  });

  test('alg none is refused', async () => {
    const token = new UnsecuredJWT({ sub: 'alice', team: 'team-1' })
      .setExpirationTime(inOneHour())
      .encode();
    await refusal(token);
  });

  test('a hand-made alg none token with an empty signature is refused', async () => {
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
      sub: 'alice',
      team: 'team-1',
      exp: inOneHour(),
    })}.`;
    await refusal(token);
  });

  test('HS512 with the right secret is refused (algorithm pinned to HS256)', async () => {
    const key = new TextEncoder().encode('k'.repeat(64));
    const token = await sign({ sub: 'alice', team: 'team-1' }, { alg: 'HS512', key });
    try {
      await verifySocketToken(token, key, expected);
      throw new Error('HS512 token was accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('unauthorized');
    }
  });

  test('HS384 is refused', async () => {
    const key = new TextEncoder().encode('k'.repeat(48));
    const token = await sign({ sub: 'alice', team: 'team-1' }, { alg: 'HS384', key });
    await expect(verifySocketToken(token, key, expected)).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });

  test('sub does not match id', async () => {
    const token = await sign({ sub: 'mallory', team: 'team-1' });
    expect((await refusal(token)).message).toMatch(/match/);
  });

  test('team does not match teamId', async () => {
    const token = await sign({ sub: 'alice', team: 'team-2' });
    expect((await refusal(token)).message).toMatch(/match/);
  });

  test('team missing', async () => {
    await refusal(await sign({ sub: 'alice' }));
  });

  test('team of another type is refused', async () => {
    await refusal(await sign({ sub: 'alice', team: 1 }), { ...expected, teamId: '1' });
  });

  test('name does not match', async () => {
    const token = await sign({ sub: 'alice', team: 'team-1', name: '李四' });
    expect((await refusal(token)).message).toMatch(/name/);
  });

  test('missing exp is refused', async () => {
    await refusal(await sign({ sub: 'alice', team: 'team-1' }, { exp: null }));
  });

  test('missing sub is refused', async () => {
    await refusal(await sign({ team: 'team-1' }));
  });

  test('garbage is refused as an invalid token', async () => {
    expect((await refusal('not-a-jwt')).message).toBe('invalid token');
  });

  test('a token whose signature was tampered with is refused', async () => {
    const token = await sign({ sub: 'alice', team: 'team-1' });
    const [h, p] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ sub: 'alice', team: 'team-1', exp: inOneHour(), admin: true }),
    ).toString('base64url');
    expect(p).not.toBe(forged);
    await refusal(`${h}.${forged}.${token.split('.')[2]}`);
  });
});
