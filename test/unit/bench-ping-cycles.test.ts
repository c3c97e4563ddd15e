import { pingCycleWindowMs, pingCycleWindows } from '../../bench/ping-cycles';

describe('the C100k idle window in whole ping cycles', () => {
  test('60 s at 25 s beats is one cycle of two beats', () => {
    expect(pingCycleWindowMs(60_000, 25_000)).toBe(50_000);
  });

  test('rounds to the nearest number of cycles', () => {
    expect(pingCycleWindowMs(80_000, 25_000)).toBe(100_000);
    expect(pingCycleWindowMs(20_000, 2_000)).toBe(20_000);
    expect(pingCycleWindowMs(21_000, 2_000)).toBe(20_000);
  });

  test('a window under half a cycle is kept as asked', () => {
    expect(pingCycleWindowMs(200, 25_000)).toBe(200);
    expect(pingCycleWindowMs(24_000, 25_000)).toBe(24_000);
  });
});

describe('the C100k idle hold split into ping cycles', () => {
  test('two cycles or more: one window per cycle', () => {
    expect(pingCycleWindows(100_000, 25_000)).toEqual([50_000, 50_000]);
    expect(pingCycleWindows(130_000, 25_000)).toEqual([50_000, 50_000, 50_000]);
  });

  test('one cycle or less: a single window', () => {
    expect(pingCycleWindows(60_000, 25_000)).toEqual([50_000]);
    expect(pingCycleWindows(200, 25_000)).toEqual([200]);
  });
});
