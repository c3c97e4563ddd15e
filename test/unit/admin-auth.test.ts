import { tokenMatches } from '../../middleware/admin-auth';

describe('tokenMatches', () => {
  const token = 'test-admin-token-0123456789';

  test('the same token matches', () => {
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token}`, token.slice(0))).toBe(true);
  });

  test('a different token of the same length does not match', () => {
    expect(tokenMatches(token.replace(/9$/, '8'), token)).toBe(false);
  });

  test('a prefix does not match', () => {
    expect(tokenMatches(token.slice(0, -1), token)).toBe(false);
  });

  test('a longer token does not match', () => {
    expect(tokenMatches(`${token}x`, token)).toBe(false);
  });

  test('an empty token does not match', () => {
    expect(tokenMatches('', token)).toBe(false);
  });

  test('case matters', () => {
    expect(tokenMatches(token.toUpperCase(), token)).toBe(false);
  });

  test('non-ASCII tokens are compared exactly', () => {
    expect(tokenMatches('令牌-0123456789abcdef', '令牌-0123456789abcdef')).toBe(true);
    expect(tokenMatches('令牌-0123456789abcdef', '令片-0123456789abcdef')).toBe(false);
  });

  test('the comparison is symmetric', () => {
    expect(tokenMatches(token, 'other')).toBe(tokenMatches('other', token));
  });
});
