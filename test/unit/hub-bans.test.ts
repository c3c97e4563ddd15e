import { BanMirror, makeBan } from '../../services/bans';
import { hubPerTest } from '../helpers/hub-per-test';

/**
 * The hub closes banned sockets with 4003: on a `ban` event, and when a socket whose
 * handshake passed just before the ban arrived is added afterwards. Real sockets.
 */
let mirror: BanMirror;
const rig = hubPerTest({ isBanned: (userId, teamId) => mirror.isBanned(userId, teamId) });

beforeEach(() => {
  mirror = new BanMirror();
});

/** Adds a connection of the user in the team; resolves with its client's close code. */
async function member(userId: string, teamId: string): Promise<{ closed: Promise<number> }> {
  const { client } = await rig.join({ connId: `c${rig.count + 1}`, userId, teamId });
  return { closed: new Promise((resolve) => client.on('close', (code) => resolve(code))) };
}

test('a ban event closes the user in that team with 4003, and nobody else', async () => {
  // connIds c1, c2, c3, in this order.
  const target = await member('mallory', 'A');
  const elsewhere = await member('mallory', 'B');
  const other = await member('alice', 'A');
  const ban = makeBan({ userId: 'mallory', teamId: 'A', seconds: 60 }, Date.now());
  rig.hub.event({ kind: 'ban', ban });
  expect(await target.closed).toBe(4003);
  // Kicked afterwards (4000): a socket the ban had closed would report 4003.
  rig.hub.kick('c2');
  rig.hub.kick('c3');
  expect(await elsewhere.closed).toBe(4000);
  expect(await other.closed).toBe(4000);
});

test('a socket added after its ban arrived is closed with 4003 at once', async () => {
  mirror.set(makeBan({ userId: 'late', teamId: 'A', seconds: 60 }, Date.now()));
  const late = await member('late', 'A');
  expect(await late.closed).toBe(4003);
});
