import { rmSync } from 'node:fs';
import { freePort } from '../../support/free-port';
import { kill9, type Managed } from '../../support/managed';
import { startNode, type StartedNode } from '../../support/node-process';
import { startRedis } from '../../support/redis-process';
import { makeTlsFiles, redisTlsArgs, type TlsFiles } from '../../support/tls-certs';
import { connect, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { describeWithRedis } from '../helpers/redis-server';
import { buildServerOnce } from '../helpers/build-server-once';

/**
 * A node on a Redis that speaks TLS only, its certificate signed by a private CA,
 * trusted the way an operator trusts one: NODE_EXTRA_CA_CERTS.
 */
describeWithRedis('Redis over TLS (rediss://)', () => {
  let files: TlsFiles;
  let redis: Managed;
  let url: string;
  const clients: TestClient[] = [];
  const nodes: StartedNode[] = [];

  beforeAll(async () => {
    buildServerOnce();
    files = makeTlsFiles();
    const port = await freePort();
    redis = await startRedis(port, { args: redisTlsArgs(port, files) });
    url = `rediss://127.0.0.1:${port}`;
  }, 60_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    // Only the nodes: the suite's Redis is managed too, and outlives each test.
    await Promise.all(nodes.splice(0).map((n) => kill9(n)));
  });

  afterAll(async () => {
    await kill9(redis);
    rmSync(files.dir, { recursive: true, force: true });
  });

  async function ready(node: StartedNode): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${node.port}/api/ready`);
    return { status: res.status, body: await res.json() };
  }

  it('serves end to end with the CA trusted through NODE_EXTRA_CA_CERTS', async () => {
    const node = await startNode({ REDIS_URL: url, NODE_EXTRA_CA_CERTS: files.ca, NODE_ID: 'n1' });
    nodes.push(node);
    await eventually(async () => (await ready(node)).status === 200, 15_000);
    const base = `ws://127.0.0.1:${node.port}/socket`;
    const sender = await connect(base, { id: 'u1', teamId: 'T' });
    clients.push(sender);
    const teammate = await connect(base, { id: 'u2', teamId: 'T' });
    clients.push(teammate);
    sender.send({ type: 'team', data: { text: 'over tls' }, ref: 'r1' });
    const ack = await sender.next('ack', 10_000);
    expect(ack['ref']).toBe('r1');
    expect((await teammate.next('message', 10_000))['data']).toEqual({ text: 'over tls' });
    expect(node.errors).toEqual([]);
  }, 60_000);

  it('refuses a server whose certificate it cannot verify: not ready, and says why', async () => {
    const node = await startNode({ REDIS_URL: url, NODE_ID: 'n2' });
    nodes.push(node);
    const logged = await eventually(() => {
      const line = node.stdout
        .join('')
        .split('\n')
        .find((l) => l.includes('redis unavailable'));
      return line === undefined ? false : (JSON.parse(line) as Record<string, unknown>);
    }, 15_000);
    expect(JSON.stringify(logged['err'])).toMatch(/certificate/i);
    expect(JSON.stringify(logged)).toContain('SELF_SIGNED_CERT_IN_CHAIN');
    // Still refused after the start: it never falls back to an unverified connection.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const probe = await ready(node);
    expect(probe.status).toBe(503);
  }, 60_000);
});
