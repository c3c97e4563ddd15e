import type { Bans } from '../../services/bans';
import { AppError } from '../../services/errors';
import { eventually } from '../helpers/eventually';

export type BansFactory = (max: number) => Promise<Bans>;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The behaviour every Bans implementation shares. Each test gets an empty one. */
export function bansContract(name: string, make: BansFactory): void {
  describe(`bans contract: ${name}`, () => {
    const open: Bans[] = [];
    const fresh = async (max = 100) => {
      const bans = await make(max);
      open.push(bans);
      return bans;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    test('empty at first', async () => {
      const bans = await fresh();
      expect(await bans.list()).toEqual([]);
      expect(bans.isBanned('mallory', 'A')).toBe(false);
    });

    test('a team ban covers that user in that team only', async () => {
      const bans = await fresh();
      const ban = await bans.add({ userId: 'mallory', teamId: 'A', seconds: 60, reason: '刷屏' });
      expect(ban).toEqual({
        userId: 'mallory',
        teamId: 'A',
        reason: '刷屏',
        createdAt: expect.stringMatching(ISO_8601),
        expiresAt: expect.stringMatching(ISO_8601),
      });
      expect(Date.parse(ban.expiresAt!) - Date.parse(ban.createdAt)).toBe(60_000);
      expect(await bans.list()).toEqual([ban]);
      expect(bans.isBanned('mallory', 'A')).toBe(true);
      expect(bans.isBanned('mallory', 'B')).toBe(false);
      expect(bans.isBanned('alice', 'A')).toBe(false);
    });

    test('a ban without a team covers every team; 0 seconds is until lifted', async () => {
      const bans = await fresh();
      const ban = await bans.add({ userId: 'mallory', seconds: 0 });
      expect(ban).toMatchObject({ teamId: null, reason: null, expiresAt: null });
      expect(bans.isBanned('mallory', 'A')).toBe(true);
      expect(bans.isBanned('mallory', 'Z')).toBe(true);
      expect(await bans.list()).toEqual([ban]);
    });

    test('banning again replaces the ban; bans are listed by user, everywhere first', async () => {
      const bans = await fresh();
      await bans.add({ userId: 'zed', teamId: 'A', seconds: 60, reason: 'first' });
      const again = await bans.add({ userId: 'zed', teamId: 'A', seconds: 120, reason: 'second' });
      const b = await bans.add({ userId: 'bob', teamId: 'B', seconds: 60 });
      const everywhere = await bans.add({ userId: 'bob', seconds: 60 });
      expect(await bans.list()).toEqual([everywhere, b, again]);
    });

    test('lifting a ban: true once, then false; the other bans of the user stay', async () => {
      const bans = await fresh();
      await bans.add({ userId: 'mallory', teamId: 'A', seconds: 60 });
      await bans.add({ userId: 'mallory', seconds: 60 });
      expect(await bans.remove('mallory', 'A')).toBe(true);
      expect(await bans.remove('mallory', 'A')).toBe(false);
      expect(bans.isBanned('mallory', 'A')).toBe(true);
      expect(await bans.remove('mallory', undefined)).toBe(true);
      expect(bans.isBanned('mallory', 'A')).toBe(false);
      expect(await bans.list()).toEqual([]);
    });

    test('a ban expires on its own', async () => {
      const bans = await fresh();
      // Seconds enough that a slow add() on a loaded machine is not already past it.
      await bans.add({ userId: 'brief', teamId: 'A', seconds: 3 });
      await bans.add({ userId: 'long', teamId: 'A', seconds: 600 });
      expect(bans.isBanned('brief', 'A')).toBe(true);
      await eventually(async () => {
        expect(bans.isBanned('brief', 'A')).toBe(false);
        expect((await bans.list()).map((b) => b.userId)).toEqual(['long']);
      }, 15_000);
      expect(await bans.remove('brief', 'A')).toBe(false);
    });

    test('past the cap a new ban is refused with conflict; replacing one is not', async () => {
      const bans = await fresh(2);
      await bans.add({ userId: 'u1', seconds: 60 });
      await bans.add({ userId: 'u2', seconds: 60 });
      const refused = await bans.add({ userId: 'u3', seconds: 60 }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).code).toBe('conflict');
      await bans.add({ userId: 'u2', seconds: 120 });
      expect((await bans.list()).map((b) => b.userId)).toEqual(['u1', 'u2']);
    });
  });
}
