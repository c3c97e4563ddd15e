import { connect } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { useProcessNodes } from '../helpers/process-nodes';
import { describeWithRedis } from '../helpers/redis-server';

const ADMIN = { ADMIN_TOKEN: 'process-test-admin-token' };
const LEASE_MS = 1000;

/** Separate OS processes on one Redis, one of them killed with SIGKILL. */
describeWithRedis('cluster of OS processes', () => {
  const { clients, node: spawn } = useProcessNodes(ADMIN.ADMIN_TOKEN, LEASE_MS);
  const node = (id: string, leaseMs = LEASE_MS) =>
    spawn(id, { PRESENCE_LEASE_MS: String(leaseMs) });

  test('kill -9 of a node: its users leave within two leases, and resume on a survivor with no gap', async () => {
    // Spawned together: each start is a second or more of module loading.
    const [a, b] = await Promise.all([node('proc-a'), node('proc-b')]);
    const watcher = await connect(b.url, { id: 'watcher', teamId: 'T' });
    clients.push(watcher);
    const victim = await connect(a.url, { id: 'victim', teamId: 'T' });
    expect(await watcher.next('presence')).toMatchObject({ event: 'join', user: { id: 'victim' } });
    watcher.send('before');
    const seen = await victim.next('message');
    const epoch = victim.welcome['epoch'] as string;

    a.proc.child.kill('SIGKILL');
    await victim.waitClose();
    for (let i = 0; i < 20; i++) watcher.send({ type: 'team', data: i });
    for (let i = 0; i < 20; i++) await watcher.next('ack');
    // The deadline is the contract (two lease periods, plus slack for a loaded machine), not a speed figure.
    expect(await watcher.next('presence', 2 * LEASE_MS + 2000)).toMatchObject({
      event: 'leave',
      user: { id: 'victim' },
    });

    const back = await connect(b.url, {
      id: 'victim',
      teamId: 'T',
      since: seen['seq'] as number,
      epoch,
    });
    clients.push(back);
    const replayed: number[] = [];
    for (;;) {
      const frame = await back.next();
      if (frame.type === 'resumed') {
        expect(frame['complete']).toBe(true);
        break;
      }
      if (frame.type === 'message') replayed.push(frame['seq'] as number);
    }
    expect(replayed).toEqual(Array.from({ length: 20 }, (_, i) => (seen['seq'] as number) + 1 + i));
  }, 30000);

  test('a node paused past its lease: its users leave, and join again when it wakes', async () => {
    const [watching, paused] = await Promise.all([node('proc-watch'), node('proc-paused')]);
    const watcher = await connect(watching.url, { id: 'watcher', teamId: 'P' });
    clients.push(watcher);
    const sleeper = await connect(paused.url, { id: 'sleeper', teamId: 'P' });
    clients.push(sleeper);
    expect(await watcher.next('presence')).toMatchObject({
      event: 'join',
      user: { id: 'sleeper' },
    });

    // A long GC or a VM hiccup, as the rest of the cluster sees it: the process does nothing.
    paused.proc.child.kill('SIGSTOP');
    try {
      expect(await watcher.next('presence', 2 * LEASE_MS + 2000)).toMatchObject({
        event: 'leave',
        user: { id: 'sleeper' },
      });
    } finally {
      paused.proc.child.kill('SIGCONT');
    }

    // Its socket never closed: the user is online again, and teammates are told so.
    expect(await watcher.next('presence', 2 * LEASE_MS + 2000)).toMatchObject({
      event: 'join',
      user: { id: 'sleeper' },
    });
    watcher.send({ type: 'presence' });
    const members = (await watcher.next('members'))['members'] as { id: string }[];
    expect(members.map((m) => m.id).sort()).toEqual(['sleeper', 'watcher']);
    // The sleeper's own connection still works end to end.
    watcher.send('welcome back');
    expect(await sleeper.next('message')).toMatchObject({ data: 'welcome back' });
    await watcher.sync();
    expect(watcher.take('presence')).toEqual([]);
    expect(sleeper.closed).toBeUndefined();
  }, 30000);

  test('a node restarted under the same NODE_ID is ready at once and clears what it left', async () => {
    // A lease far longer than the test: nothing here may wait for it to run out.
    const longLease = 120_000;
    const [watching, first] = await Promise.all([
      node('proc-watch-r'),
      node('proc-restarted', longLease),
    ]);
    const watcher = await connect(watching.url, { id: 'watcher', teamId: 'R' });
    clients.push(watcher);
    const ghost = await connect(first.url, { id: 'ghost', teamId: 'R' });
    expect(await watcher.next('presence')).toMatchObject({ event: 'join', user: { id: 'ghost' } });

    first.proc.child.kill('SIGKILL');
    await ghost.waitClose();
    // Its lease is still alive in Redis when the new process starts.
    const second = await node('proc-restarted', longLease);
    await eventually(async () => (await fetch(`${second.http}/api/ready`)).status === 200, 15_000);
    // The dead process's connection is not carried over as the new one's.
    expect(await watcher.next('presence')).toMatchObject({ event: 'leave', user: { id: 'ghost' } });
    const listed = (await (
      await fetch(`${second.http}/api/connections?teamId=R`, {
        headers: { authorization: `Bearer ${ADMIN.ADMIN_TOKEN}` },
      })
    ).json()) as { connections: { userId: string }[] };
    expect(listed.connections.map((c) => c.userId)).toEqual(['watcher']);
  }, 30000);
});
