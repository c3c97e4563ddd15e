import { epochAt, isNewerEpoch, newLocalEpoch } from '../../services/epoch';

test('ordered epochs compare by the time they were made', () => {
  const a = epochAt(1_700_000_000_000_000);
  const b = epochAt(1_700_000_000_000_001);
  expect(a).toHaveLength(16);
  expect(isNewerEpoch(b, a)).toBe(true);
  expect(isNewerEpoch(a, b)).toBe(false);
  expect(isNewerEpoch(a, a)).toBe(false);
  expect(newLocalEpoch() > a).toBe(true);
});

test('epochs made before they were ordered are older than any ordered one', () => {
  const ordered = epochAt(1_000);
  expect(isNewerEpoch(ordered, '3f9a0c1e')).toBe(true);
  expect(isNewerEpoch('3f9a0c1e', ordered)).toBe(false);
  // Between two unordered ones the order is unknown: the client is told, not misled.
  expect(isNewerEpoch('3f9a0c1e', '00aa11bb')).toBe(true);
  // A connection that knows no epoch yet takes any.
  expect(isNewerEpoch(ordered, '')).toBe(true);
});
