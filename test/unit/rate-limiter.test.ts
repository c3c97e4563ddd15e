import { TokenBucket } from '../../services/rate-limiter';

/** Takes `n` times at the same instant and counts how many were allowed. */
function takeMany(bucket: TokenBucket, n: number, now: number): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (bucket.take(now)) allowed++;
  return allowed;
}

describe('TokenBucket', () => {
  const T0 = 1_000_000;

  test('allows a full burst, then refuses', () => {
    const bucket = new TokenBucket(20, 40, T0);
    expect(takeMany(bucket, 40, T0)).toBe(40);
    expect(bucket.take(T0)).toBe(false);
    expect(bucket.take(T0)).toBe(false);
  });

  test('a burst of 1 allows exactly one message', () => {
    const bucket = new TokenBucket(5, 1, T0);
    expect(bucket.take(T0)).toBe(true);
    expect(bucket.take(T0)).toBe(false);
  });

  test('refills at the rate over injected time', () => {
    const bucket = new TokenBucket(10, 10, T0);
    expect(takeMany(bucket, 10, T0)).toBe(10);
    expect(bucket.take(T0)).toBe(false);
    // 10/s: one token every 100 ms.
    expect(bucket.take(T0 + 99)).toBe(false);
    expect(bucket.take(T0 + 100)).toBe(true);
    expect(bucket.take(T0 + 100)).toBe(false);
    // Half a second later: five more.
    expect(takeMany(bucket, 10, T0 + 600)).toBe(5);
  });

  test('partial refills accumulate across calls', () => {
    const bucket = new TokenBucket(10, 10, T0);
    takeMany(bucket, 10, T0);
    // Refused attempts do not waste the fraction gathered so far.
    expect(bucket.take(T0 + 50)).toBe(false);
    expect(bucket.take(T0 + 100)).toBe(true);
  });

  test('never holds more than burst, however long it idles', () => {
    const bucket = new TokenBucket(100, 3, T0);
    expect(takeMany(bucket, 3, T0)).toBe(3);
    const later = T0 + 24 * 3600 * 1000;
    expect(takeMany(bucket, 100, later)).toBe(3);
  });

  test('a fresh bucket starts full but not above burst', () => {
    const bucket = new TokenBucket(1000, 5, T0);
    expect(takeMany(bucket, 10, T0 + 10_000)).toBe(5);
  });

  test('rate 0 means unlimited', () => {
    const bucket = new TokenBucket(0, 1, T0);
    expect(takeMany(bucket, 10_000, T0)).toBe(10_000);
  });

  test('a clock that goes backwards does not mint tokens', () => {
    const bucket = new TokenBucket(10, 2, T0);
    expect(takeMany(bucket, 2, T0)).toBe(2);
    expect(bucket.take(T0 - 60_000)).toBe(false);
    expect(bucket.take(T0)).toBe(false);
  });

  test('steady sending at the rate is always allowed', () => {
    const bucket = new TokenBucket(20, 40, T0);
    takeMany(bucket, 40, T0);
    for (let i = 1; i <= 200; i++) expect(bucket.take(T0 + i * 50)).toBe(true);
  });
});
