import { AppError } from '../../services/errors';
import type { Store } from '../../services/store';
import type { Team } from '../../services/types';
import { closedAfterEach } from '../helpers/closed-after-each';
import { perTestIds } from '../helpers/per-test-ids';

export type StoreFactory = () => Promise<Store>;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * The behaviour every Store must share. Team ids are unique per test, so a
 * durable store (SQL) passes without being emptied.
 */
export function storeContract(name: string, makeStore: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    const start = closedAfterEach(makeStore);
    const { id, ours } = perTestIds();

    async function conflictOf(promise: Promise<unknown>): Promise<AppError> {
      try {
        await promise;
      } catch (err) {
        if (err instanceof AppError) return err;
        throw err;
      }
      throw new Error('expected a conflict, the call succeeded');
    }

    test('createTeam returns the team with an ISO createdAt', async () => {
      const s = await start();
      const team = await s.createTeam({ id: id('a'), name: '研发部' });
      expect(team).toEqual({ id: id('a'), name: '研发部', createdAt: expect.any(String) });
      expect(team.createdAt).toMatch(ISO_8601);
      expect(Number.isNaN(Date.parse(team.createdAt))).toBe(false);
    });

    test('getTeam returns what createTeam stored', async () => {
      const s = await start();
      const team = await s.createTeam({ id: id('a'), name: 'Team A' });
      expect(await s.getTeam(id('a'))).toEqual(team);
    });

    test('getTeam of an unknown id is undefined', async () => {
      const s = await start();
      expect(await s.getTeam(id('unknown'))).toBeUndefined();
    });

    test('a duplicate createTeam is a conflict and keeps the first', async () => {
      const s = await start();
      const first = await s.createTeam({ id: id('a'), name: 'First' });
      const err = await conflictOf(s.createTeam({ id: id('a'), name: 'Second' }));
      expect(err.code).toBe('conflict');
      expect(err.status).toBe(409);
      expect(await s.getTeam(id('a'))).toEqual(first);
    });

    test('concurrent createTeam of one id: exactly one wins', async () => {
      const s = await start();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => s.createTeam({ id: id('race'), name: `n${i}` })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      for (const r of lost) {
        expect(r.reason).toBeInstanceOf(AppError);
        expect((r.reason as AppError).code).toBe('conflict');
      }
      expect(await s.getTeam(id('race'))).toEqual((won[0] as PromiseFulfilledResult<Team>).value);
    });

    test('ensureTeam creates a missing team', async () => {
      const s = await start();
      const team = await s.ensureTeam(id('seen'));
      expect(team.id).toBe(id('seen'));
      expect(typeof team.name).toBe('string');
      expect(team.name.length).toBeGreaterThan(0);
      expect(team.createdAt).toMatch(ISO_8601);
      expect(await s.getTeam(id('seen'))).toEqual(team);
    });

    test('ensureTeam is idempotent', async () => {
      const s = await start();
      const first = await s.ensureTeam(id('seen'));
      const second = await s.ensureTeam(id('seen'));
      expect(second).toEqual(first);
      expect((await s.listTeams()).filter((t) => t.id === id('seen'))).toHaveLength(1);
    });

    test('concurrent ensureTeam of one id agree and store one team', async () => {
      const s = await start();
      const teams = await Promise.all(Array.from({ length: 5 }, () => s.ensureTeam(id('many'))));
      for (const t of teams) expect(t).toEqual(teams[0]);
      expect((await s.listTeams()).filter((t) => t.id === id('many'))).toHaveLength(1);
    });

    test('ensureTeam does not overwrite a created team', async () => {
      const s = await start();
      const created = await s.createTeam({ id: id('a'), name: 'Proper Name' });
      expect(await s.ensureTeam(id('a'))).toEqual(created);
      expect(await s.getTeam(id('a'))).toEqual(created);
    });

    test('createTeam after ensureTeam is a conflict', async () => {
      const s = await start();
      await s.ensureTeam(id('a'));
      const err = await conflictOf(s.createTeam({ id: id('a'), name: 'Late' }));
      expect(err.code).toBe('conflict');
    });

    test('listTeams holds every created and ensured team once', async () => {
      const s = await start();
      const a = await s.createTeam({ id: id('a'), name: 'A' });
      const b = await s.createTeam({ id: id('b'), name: 'B' });
      const c = await s.ensureTeam(id('c'));
      await s.ensureTeam(id('a'));
      const listed = (await s.listTeams())
        .filter((t) => ours(t.id))
        .sort((x, y) => (x.id < y.id ? -1 : 1));
      expect(listed).toEqual([a, b, c]);
    });

    test('renameTeam gives a created team a new name and keeps createdAt', async () => {
      const s = await start();
      const created = await s.createTeam({ id: id('a'), name: 'Old' });
      const renamed = await s.renameTeam(id('a'), '新名字');
      expect(renamed).toEqual({ ...created, name: '新名字' });
      expect(await s.getTeam(id('a'))).toEqual(renamed);
      expect((await s.listTeams()).filter((t) => t.id === id('a'))).toEqual([renamed]);
    });

    test('renameTeam names a team first recorded by ensureTeam', async () => {
      const s = await start();
      const seen = await s.ensureTeam(id('seen'));
      const renamed = await s.renameTeam(id('seen'), 'Proper Name');
      expect(renamed).toEqual({ ...seen, name: 'Proper Name' });
      expect(await s.getTeam(id('seen'))).toEqual(renamed);
      // A later socket does not undo it.
      expect(await s.ensureTeam(id('seen'))).toEqual(renamed);
    });

    test('renameTeam of an unknown id is undefined and creates nothing', async () => {
      const s = await start();
      expect(await s.renameTeam(id('ghost'), 'Ghost')).toBeUndefined();
      expect(await s.getTeam(id('ghost'))).toBeUndefined();
    });

    test('renameTeam touches no other team', async () => {
      const s = await start();
      const b = await s.createTeam({ id: id('b'), name: 'B' });
      await s.createTeam({ id: id('a'), name: 'A' });
      await s.renameTeam(id('a'), 'A2');
      expect(await s.getTeam(id('b'))).toEqual(b);
    });
  });
}
