import { BanMirror, makeBan } from '../../services/bans';
import { MemoryBans } from '../../services/memory/bans';

/**
 * A node's in-memory copy of the bans forgets a ban once it expired, whoever is
 * asked about next: not only when the banned user comes back.
 */
const T0 = Date.parse('2026-01-01T00:00:00Z');

let now = T0;
beforeEach(() => {
  now = T0;
  jest.spyOn(Date, 'now').mockImplementation(() => now);
});
afterEach(() => jest.restoreAllMocks());

test('an expired ban is dropped on the next check, of any user', () => {
  const mirror = new BanMirror();
  mirror.set(makeBan({ userId: 'gone', teamId: 'A', seconds: 60 }, now));
  mirror.set(makeBan({ userId: 'stays', seconds: 3600 }, now));
  mirror.set(makeBan({ userId: 'forever', seconds: 0 }, now));
  expect(mirror.isBanned('gone', 'A')).toBe(true);
  now += 61_000;
  expect(mirror.isBanned('someone-else', 'B')).toBe(false);
  expect(mirror.size).toBe(2);
  expect(mirror.isBanned('stays', 'B')).toBe(true);
  expect(mirror.isBanned('forever', 'B')).toBe(true);
  now += 3600_000;
  expect(mirror.isBanned('someone-else', 'B')).toBe(false);
  expect(mirror.size).toBe(1);
});

test('many bans expiring one after another all go', () => {
  const mirror = new BanMirror();
  for (let i = 0; i < 100; i++) {
    mirror.set(makeBan({ userId: `u${i}`, seconds: 1 + i }, now));
  }
  for (let i = 0; i < 100; i++) {
    now += 1000;
    mirror.isBanned('nobody', 'A');
  }
  now += 1000;
  mirror.isBanned('nobody', 'A');
  expect(mirror.size).toBe(0);
});

test('a ban read back already expired is not kept', () => {
  const mirror = new BanMirror();
  mirror.reset([makeBan({ userId: 'old', seconds: 60 }, now - 120_000)]);
  expect(mirror.isBanned('other', 'A')).toBe(false);
  expect(mirror.size).toBe(0);
});

test('the memory engine lists and checks no expired ban', async () => {
  const bans = new MemoryBans();
  await bans.add({ userId: 'u', teamId: 'A', seconds: 60 });
  now += 60_000;
  expect(bans.isBanned('u', 'A')).toBe(false);
  expect(await bans.list()).toEqual([]);
  await bans.close();
});
