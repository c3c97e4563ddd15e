import type { Presence } from '../../services/presence';
import type { ConnectionInfo } from '../../services/types';
import { closedAfterEach } from '../helpers/closed-after-each';
import { perTestIds } from '../helpers/per-test-ids';

export type PresenceFactory = () => Promise<Presence>;

/**
 * The behaviour every Presence must share. Ids carry a per-test prefix and
 * cluster-wide answers are filtered to them, so a backend whose state outlives one
 * factory call still passes.
 */
export function presenceContract(name: string, makePresence: PresenceFactory): void {
  describe(`presence contract: ${name}`, () => {
    const start = closedAfterEach(makePresence);
    const testIds = perTestIds();
    const team = testIds.id;
    const connId = testIds.id;

    function conn(
      c: string,
      userId: string,
      t: string,
      userName = `${userId} name`,
    ): ConnectionInfo {
      return {
        connId: connId(c),
        userId,
        name: userName,
        teamId: team(t),
        node: 'node-a',
        ip: '203.0.113.7',
        connectedAt: '2024-01-02T03:04:05.678Z',
      };
    }

    const byId = <T extends { id: string }>(list: T[]) =>
      [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

    test('teamCount counts teams with a connection, and drops a team with none left', async () => {
      const p = await start();
      // Cluster-wide and shared with earlier tests: compare with what was there.
      const before = await p.teamCount();
      await p.add(conn('c1', 'alice', 'x'));
      await p.add(conn('c2', 'bob', 'x'));
      await p.add(conn('c3', 'alice', 'y'));
      expect(await p.teamCount()).toBe(before + 2);
      await p.remove(conn('c3', 'alice', 'y'));
      expect(await p.teamCount()).toBe(before + 1);
      await p.remove(conn('c1', 'alice', 'x'));
      expect(await p.teamCount()).toBe(before + 1);
      await p.remove(conn('c2', 'bob', 'x'));
      expect(await p.teamCount()).toBe(before);
    });

    describe('add and remove', () => {
      test('first only on the first connection of a user in a team', async () => {
        const p = await start();
        expect(await p.add(conn('c1', 'alice', 'x'))).toEqual({ first: true });
        expect(await p.add(conn('c2', 'alice', 'x'))).toEqual({ first: false });
        expect(await p.add(conn('c3', 'bob', 'x'))).toEqual({ first: true });
      });

      test('first is per team', async () => {
        const p = await start();
        expect(await p.add(conn('c1', 'alice', 'x'))).toEqual({ first: true });
        expect(await p.add(conn('c2', 'alice', 'y'))).toEqual({ first: true });
      });

      test('last only when the user’s last connection in the team goes', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        const c2 = conn('c2', 'alice', 'x');
        await p.add(c1);
        await p.add(c2);
        expect(await p.remove(c1)).toEqual({ last: false });
        expect(await p.remove(c2)).toEqual({ last: true });
      });

      test('removal order does not matter', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        const c2 = conn('c2', 'alice', 'x');
        await p.add(c1);
        await p.add(c2);
        expect(await p.remove(c2)).toEqual({ last: false });
        expect(await p.remove(c1)).toEqual({ last: true });
      });

      test('last is per team', async () => {
        const p = await start();
        const inX = conn('c1', 'alice', 'x');
        const inY = conn('c2', 'alice', 'y');
        await p.add(inX);
        await p.add(inY);
        expect(await p.remove(inX)).toEqual({ last: true });
        expect(await p.remove(inY)).toEqual({ last: true });
      });

      test('another user’s connections do not keep a user present', async () => {
        const p = await start();
        const a = conn('c1', 'alice', 'x');
        await p.add(a);
        await p.add(conn('c2', 'bob', 'x'));
        expect(await p.remove(a)).toEqual({ last: true });
      });

      test('removing an unknown connection is not a last', async () => {
        const p = await start();
        expect(await p.remove(conn('nope', 'alice', 'x'))).toEqual({ last: false });
      });

      test('removing a connection twice is a last only once', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        await p.add(c1);
        expect(await p.remove(c1)).toEqual({ last: true });
        expect(await p.remove(c1)).toEqual({ last: false });
      });

      test('removing an unknown connection of a present user keeps them present', async () => {
        const p = await start();
        await p.add(conn('c1', 'alice', 'x'));
        expect(await p.remove(conn('ghost', 'alice', 'x'))).toEqual({ last: false });
        expect(await p.members(team('x'))).toEqual([
          { id: 'alice', name: 'alice name', connections: 1 },
        ]);
      });

      test('a user who left and comes back is first again', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        await p.add(c1);
        await p.remove(c1);
        expect(await p.add(conn('c2', 'alice', 'x'))).toEqual({ first: true });
      });
    });

    describe('get', () => {
      test('returns the connection as added', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x', '张三');
        await p.add(c1);
        expect(await p.get(c1.connId)).toEqual(c1);
      });

      test('unknown and removed connections are undefined', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        expect(await p.get(connId('c1'))).toBeUndefined();
        await p.add(c1);
        await p.remove(c1);
        expect(await p.get(c1.connId)).toBeUndefined();
      });
    });

    describe('members', () => {
      test('one entry per user with name and connection count', async () => {
        const p = await start();
        await p.add(conn('c1', 'alice', 'x', 'Alice'));
        await p.add(conn('c2', 'alice', 'x', 'Alice'));
        await p.add(conn('c3', 'bob', 'x', '鲍勃'));
        await p.add(conn('c4', 'carol', 'y', 'Carol'));
        expect(byId(await p.members(team('x')))).toEqual([
          { id: 'alice', name: 'Alice', connections: 2 },
          { id: 'bob', name: '鲍勃', connections: 1 },
        ]);
        expect(await p.members(team('y'))).toEqual([
          { id: 'carol', name: 'Carol', connections: 1 },
        ]);
      });

      test('counts drop as connections close and users leave', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        const c2 = conn('c2', 'alice', 'x');
        const c3 = conn('c3', 'bob', 'x');
        await p.add(c1);
        await p.add(c2);
        await p.add(c3);
        await p.remove(c1);
        expect(byId(await p.members(team('x')))).toEqual([
          { id: 'alice', name: 'alice name', connections: 1 },
          { id: 'bob', name: 'bob name', connections: 1 },
        ]);
        await p.remove(c3);
        expect(await p.members(team('x'))).toEqual([
          { id: 'alice', name: 'alice name', connections: 1 },
        ]);
        await p.remove(c2);
        expect(await p.members(team('x'))).toEqual([]);
      });

      test('an unknown team has no members', async () => {
        const p = await start();
        expect(await p.members(team('nobody'))).toEqual([]);
      });
    });

    describe('teams', () => {
      test('online counts distinct users, connections counts sockets', async () => {
        const p = await start();
        await p.add(conn('c1', 'alice', 'x'));
        await p.add(conn('c2', 'alice', 'x'));
        await p.add(conn('c3', 'bob', 'x'));
        await p.add(conn('c4', 'alice', 'y'));
        const ours = (await p.teams()).filter((t) => testIds.ours(t.teamId));
        expect([...ours].sort((a, b) => (a.teamId < b.teamId ? -1 : 1))).toEqual([
          { teamId: team('x'), online: 2, connections: 3 },
          { teamId: team('y'), online: 1, connections: 1 },
        ]);
      });

      test('a team with nobody left is not listed', async () => {
        const p = await start();
        const c1 = conn('c1', 'alice', 'x');
        await p.add(c1);
        await p.add(conn('c2', 'bob', 'y'));
        await p.remove(c1);
        const ours = (await p.teams()).filter((t) => testIds.ours(t.teamId));
        expect(ours).toEqual([{ teamId: team('y'), online: 1, connections: 1 }]);
      });
    });

    describe('list', () => {
      async function populate(p: Presence): Promise<ConnectionInfo[]> {
        const conns = [
          conn('c1', 'alice', 'x'),
          conn('c2', 'alice', 'x'),
          conn('c3', 'bob', 'x'),
          conn('c4', 'alice', 'y'),
          conn('c5', 'carol', 'y'),
          conn('c6', 'dave', 'z'),
          conn('c7', 'bob', 'z'),
        ];
        for (const c of conns) await p.add(c);
        return conns;
      }

      /** Follows `next` to the end; every page at most `limit` long. */
      async function listAll(
        p: Presence,
        query: { teamId?: string; userId?: string; limit: number },
      ): Promise<ConnectionInfo[]> {
        const all: ConnectionInfo[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 1000; pages++) {
          const page = await p.list({ ...query, ...(cursor === undefined ? {} : { cursor }) });
          expect(page.connections.length).toBeLessThanOrEqual(query.limit);
          all.push(...page.connections);
          if (page.next === null) return all;
          expect(typeof page.next).toBe('string');
          cursor = page.next;
        }
        throw new Error('list never ended');
      }

      const ids = (list: ConnectionInfo[]) => list.map((c) => c.connId).sort();
      const ours = (list: ConnectionInfo[]) => list.filter((c) => testIds.ours(c.connId));

      test('filter by team', async () => {
        const p = await start();
        const conns = await populate(p);
        const page = await p.list({ teamId: team('x'), limit: 100 });
        expect(ids(page.connections)).toEqual(ids(conns.filter((c) => c.teamId === team('x'))));
        expect(page.next).toBeNull();
      });

      test('filter by team and user', async () => {
        const p = await start();
        await populate(p);
        const page = await p.list({ teamId: team('x'), userId: 'alice', limit: 100 });
        expect(ids(page.connections)).toEqual([connId('c1'), connId('c2')]);
      });

      test('filter by user across teams', async () => {
        const p = await start();
        await populate(p);
        const page = await p.list({ userId: 'bob', limit: 100 });
        expect(ids(ours(page.connections))).toEqual([connId('c3'), connId('c7')]);
      });

      test('entries are the full connection info', async () => {
        const p = await start();
        const conns = await populate(p);
        const page = await p.list({ teamId: team('z'), limit: 100 });
        const sorted = [...page.connections].sort((a, b) => (a.connId < b.connId ? -1 : 1));
        expect(sorted).toEqual(conns.filter((c) => c.teamId === team('z')));
      });

      test('an unknown team lists nothing', async () => {
        const p = await start();
        await populate(p);
        expect(await p.list({ teamId: team('none'), limit: 10 })).toEqual({
          connections: [],
          next: null,
        });
      });

      test.each([1, 2, 3, 7, 50])(
        'pages of %i cover every connection exactly once',
        async (limit) => {
          const p = await start();
          const conns = await populate(p);
          const all = ours(await listAll(p, { limit }));
          expect(all).toHaveLength(conns.length);
          expect(ids(all)).toEqual(ids(conns));
        },
      );

      test.each([1, 2, 3])('filtered pages of %i cover the team exactly once', async (limit) => {
        const p = await start();
        const conns = await populate(p);
        const all = await listAll(p, { teamId: team('y'), limit });
        expect(all.every((c) => c.teamId === team('y'))).toBe(true);
        expect(ids(all)).toEqual(ids(conns.filter((c) => c.teamId === team('y'))));
      });

      test('a full page with nothing after it may say so', async () => {
        const p = await start();
        await populate(p);
        const page = await p.list({ teamId: team('x'), limit: 3 });
        expect(page.connections).toHaveLength(3);
        if (page.next !== null) {
          const rest = await p.list({ teamId: team('x'), limit: 3, cursor: page.next });
          expect(rest).toEqual({ connections: [], next: null });
        }
      });

      test('a connection removed between pages is not returned later', async () => {
        const p = await start();
        const conns = await populate(p);
        const first = await p.list({ teamId: team('x'), limit: 1 });
        expect(first.next).not.toBeNull();
        const seen = new Set(first.connections.map((c) => c.connId));
        const others = conns.filter((c) => c.teamId === team('x') && !seen.has(c.connId));
        await p.remove(others[0]!);
        const rest: ConnectionInfo[] = [];
        let cursor = first.next;
        while (cursor !== null) {
          const page = await p.list({ teamId: team('x'), limit: 1, cursor });
          rest.push(...page.connections);
          cursor = page.next;
        }
        expect(ids(rest)).toEqual(ids(others.slice(1)));
      });
    });
  });
}
