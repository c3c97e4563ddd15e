import {
  PRESENCE_WINDOW_MAX_MS,
  PRESENCE_WINDOW_STEP,
  presenceWindowMs,
} from '../../services/socket/presence-window';

test('teams up to one step keep the configured window', () => {
  for (const members of [0, 1, 50, PRESENCE_WINDOW_STEP]) {
    expect(presenceWindowMs(25, members)).toBe(25);
  }
});

test('each started step of members adds a window, up to the cap', () => {
  expect(presenceWindowMs(25, PRESENCE_WINDOW_STEP + 1)).toBe(50);
  expect(presenceWindowMs(25, 2_000)).toBe(500);
  expect(presenceWindowMs(25, 4_000)).toBe(PRESENCE_WINDOW_MAX_MS);
  expect(presenceWindowMs(25, 100_000)).toBe(PRESENCE_WINDOW_MAX_MS);
});

test('0 still holds nothing, and a window longer than the cap is kept as configured', () => {
  expect(presenceWindowMs(0, 5_000)).toBe(0);
  expect(presenceWindowMs(2_000, 50)).toBe(2_000);
  expect(presenceWindowMs(2_000, 5_000)).toBe(2_000);
  expect(presenceWindowMs(600, 500)).toBe(PRESENCE_WINDOW_MAX_MS);
});
