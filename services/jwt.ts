import { errors, jwtVerify } from 'jose';
import { AppError } from './errors';

export interface TokenClaims {
  /** Expiry in ms since epoch. */
  expiresAt: number;
  /** The `teams` claim: the teams besides `team` the socket may subscribe to (§7). */
  teams: string[];
}

/**
 * docs/PROTOCOL.md §1: an HS256 JWT with `sub` = id, `team` = teamId, optional `name`, and
 * `exp`. The algorithm is pinned so a token signed any other way (or `none`) fails.
 */
export async function verifySocketToken(
  token: string,
  secret: Uint8Array,
  expected: { id: string; teamId: string; name: string },
): Promise<TokenClaims> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, secret, {
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'exp'],
    }));
  } catch (err) {
    const reason = err instanceof errors.JWTExpired ? 'token expired' : 'invalid token';
    throw new AppError('unauthorized', reason);
  }
  if (payload.sub !== expected.id || payload['team'] !== expected.teamId) {
    throw new AppError('unauthorized', 'token does not match id and teamId');
  }
  if (payload['name'] !== undefined && payload['name'] !== expected.name) {
    throw new AppError('unauthorized', 'token does not match name');
  }
  const teams = payload['teams'] ?? [];
  if (!Array.isArray(teams) || !teams.every((t): t is string => typeof t === 'string')) {
    throw new AppError('unauthorized', 'token claim teams must be an array of team ids');
  }
  return { expiresAt: payload.exp! * 1000, teams };
}
