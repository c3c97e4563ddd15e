import type WebSocket from 'ws';
import type { Config } from '../../app/config';
import type { Engine } from '../../app/engine';
import { connect, type ConnectParams, type TestClient } from './client';
import { startTestServer, type TestServer } from './server';

/**
 * For files whose tests each start a server with settings of their own. After each
 * test the clients it opened are closed, then its server: a server that closes
 * first would answer them with 1001 and change what the test saw.
 */
export function serverPerTest(): ServerPerTest {
  const servers = new ServerPerTest();
  afterEach(() => servers.close());
  return servers;
}

export class ServerPerTest {
  private current: TestServer | undefined;
  private readonly clients: TestClient[] = [];

  async start(
    env: Record<string, string> = {},
    engine?: (config: Config) => Engine | Promise<Engine>,
  ): Promise<TestServer> {
    this.current = await startTestServer(env, engine);
    return this.current;
  }

  get server(): TestServer {
    if (!this.current) throw new Error('no server started in this test');
    return this.current;
  }

  /** A client of the running server, in team A unless `params` names another. */
  async open(
    id: string,
    params: Partial<Omit<ConnectParams, 'id'>> = {},
    options: WebSocket.ClientOptions = {},
  ): Promise<TestClient> {
    return this.keep(await connect(this.server.socketUrl, { teamId: 'A', ...params, id }, options));
  }

  /** Closes `client` with the others after the test; for clients made by hand. */
  keep(client: TestClient): TestClient {
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    const server = this.current;
    this.current = undefined;
    await server?.close();
  }
}
