import { connect, type TestClient } from './client';
import { startTestServer, type TestServer } from './server';

export interface TwoNodes {
  readonly n1: TestServer;
  readonly n2: TestServer;
  /** A client of `id` on `node`, closed after the test. */
  open(
    node: TestServer,
    id: string,
    teamId?: string,
    extra?: { since?: number; epoch?: string },
  ): Promise<TestClient>;
  /** Takes a client out of the after-test close, for a test that closes it itself. */
  forget(client: TestClient): void;
  /** Closes both nodes and starts them again with `extra` on top of their env. */
  restart(extra: Record<string, string>): Promise<void>;
}

/**
 * For a describe block: two in-process nodes, n1 and n2, started before each test
 * with `env(nodeId)` and closed after it with the clients opened on them.
 */
export function useTwoNodes(env: (node: string) => Record<string, string>): TwoNodes {
  let nodes: { n1: TestServer; n2: TestServer } | undefined;
  const clients: TestClient[] = [];

  const start = async (extra: Record<string, string> = {}): Promise<void> => {
    const n1 = await startTestServer({ ...env('n1'), ...extra });
    const n2 = await startTestServer({ ...env('n2'), ...extra });
    nodes = { n1, n2 };
  };
  const stop = async (): Promise<void> => {
    await nodes?.n1.close();
    await nodes?.n2.close();
    nodes = undefined;
  };
  const started = () => {
    if (!nodes) throw new Error('used outside the tests of its describe block');
    return nodes;
  };

  beforeEach(() => start());

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await stop();
  });

  return {
    get n1() {
      return started().n1;
    },
    get n2() {
      return started().n2;
    },
    async open(node, id, teamId = 'A', extra = {}) {
      const client = await connect(node.socketUrl, { id, teamId, ...extra });
      clients.push(client);
      return client;
    },
    forget(client) {
      const at = clients.indexOf(client);
      if (at >= 0) clients.splice(at, 1);
    },
    async restart(extra) {
      await stop();
      await start(extra);
    },
  };
}
