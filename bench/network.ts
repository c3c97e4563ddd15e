import { get } from 'node:http';
import type { ManagedProcess } from './managed-process';

function statusOf(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls `GET path` until it answers 200; fails early if the process exits. */
export async function waitForHttp(
  server: ManagedProcess,
  port: number,
  path: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
    if (!server.running) {
      throw new Error(`${server.name} exited before it was ready:\n${server.output()}`);
    }
    if ((await statusOf(port, path)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${server.name} was not ready on :${port}${path}:\n${server.output()}`);
}
