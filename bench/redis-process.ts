import { createConnection } from 'node:net';
import { ManagedProcess } from './managed-process';
import { freePort } from '../support/free-port';
import { redisArgs } from '../support/redis-process';

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), 500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('latin1').startsWith('+PONG'));
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.once('close', () => resolve(false));
  });
}

/** A throwaway redis-server on a free loopback port, without persistence. */
export async function startRedis(
  cpus: string | undefined,
): Promise<{ server: ManagedProcess; url: string }> {
  const port = await freePort();
  const server = ManagedProcess.start({
    name: 'redis-server',
    command: 'redis-server',
    args: redisArgs(port),
    cpus,
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!server.running) throw new Error(`redis-server exited:\n${server.output()}`);
    if (await answersPing(port)) return { server, url: `redis://127.0.0.1:${port}` };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await server.stop();
  throw new Error(`redis-server did not answer on ${port}`);
}
