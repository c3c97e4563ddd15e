import { join } from 'node:path';
import type { FromLoadgen, LoadPlan, LoadResult } from './loadgen/contract';
import { ManagedProcess } from './managed-process';

function isReply(message: unknown): message is FromLoadgen {
  if (typeof message !== 'object' || message === null) return false;
  const type = Reflect.get(message, 'type');
  return (
    (type === 'result' && typeof Reflect.get(message, 'result') === 'object') ||
    (type === 'failed' && typeof Reflect.get(message, 'message') === 'string')
  );
}

/**
 * Runs the load generator in its own process (pinned to the client CPUs) for one
 * plan and returns its result. Kills it if it outlives `timeoutMs`.
 */
export async function runLoadgen(
  root: string,
  plan: LoadPlan,
  cpus: string | undefined,
  timeoutMs: number,
  nodeArgs: string[] = [],
): Promise<LoadResult> {
  const loadgen = ManagedProcess.start({
    name: 'loadgen',
    command: process.execPath,
    args: [...nodeArgs, join(root, 'dist', 'bench', 'loadgen', 'main.js')],
    env: { PATH: process.env['PATH'] },
    cpus,
    ipc: true,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = await new Promise<FromLoadgen>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`loadgen took over ${timeoutMs} ms`)), timeoutMs);
      loadgen.child.once('message', (message: unknown) => {
        if (isReply(message)) resolve(message);
        else reject(new Error('loadgen sent something that is not a result'));
      });
      void loadgen.exited.then(() =>
        reject(new Error(`loadgen exited without a result:\n${loadgen.output()}`)),
      );
      loadgen.child.send({ type: 'plan', plan });
    });
    if (reply.type === 'failed') throw new Error(reply.message);
    return reply.result;
  } finally {
    clearTimeout(timer);
    // It exits by itself after answering (writing its --cpu-prof profile on the way out).
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      loadgen.exited,
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, 5000);
      }),
    ]);
    clearTimeout(grace);
    await loadgen.stop(2000);
  }
}
