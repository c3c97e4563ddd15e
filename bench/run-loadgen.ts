import { join } from 'node:path';
import type {
  FromLoadgen,
  HoldPlan,
  HoldResult,
  LoadPlan,
  LoadResult,
  StormPlan,
  StormResult,
  ToLoadgen,
} from './loadgen/contract';
import { ManagedProcess } from './managed-process';

function isReply(message: unknown): message is FromLoadgen {
  if (typeof message !== 'object' || message === null) return false;
  const type: unknown = Reflect.get(message, 'type');
  return (
    type === 'disrupt' ||
    ((type === 'result' || type === 'storm-result' || type === 'hold-result') &&
      typeof Reflect.get(message, 'result') === 'object') ||
    (type === 'failed' && typeof Reflect.get(message, 'message') === 'string')
  );
}

export interface LoadgenStart {
  root: string;
  cpus: string | undefined;
  timeoutMs: number;
  nodeArgs?: string[];
  /**
   * A shell line run before node (`ulimit -n ...`): the C100k run needs more file
   * descriptors than a login shell allows.
   */
  prelude?: string;
  /** Called when a storm run asks for its node to be killed; the run waits for it. */
  onDisrupt?: () => Promise<void>;
}

/**
 * Runs the load generator in its own process (pinned to the client CPUs) for one
 * plan and returns its final reply. Kills it if it outlives `timeoutMs`.
 */
async function converse(start: LoadgenStart, message: ToLoadgen): Promise<FromLoadgen> {
  const script = join(start.root, 'dist', 'bench', 'loadgen', 'main.js');
  // --expose-gc: the load generator collects before its latency phase (collect-garbage.ts).
  const nodeArgs = ['--expose-gc', ...(start.nodeArgs ?? [])];
  const loadgen = ManagedProcess.start({
    name: 'loadgen',
    command: start.prelude ? 'sh' : process.execPath,
    args: start.prelude
      ? ['-c', `${start.prelude} && exec "$@"`, 'loadgen', process.execPath, ...nodeArgs, script]
      : [...nodeArgs, script],
    env: { PATH: process.env['PATH'] },
    cpus: start.cpus,
    ipc: true,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = await new Promise<FromLoadgen>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`loadgen took over ${start.timeoutMs} ms`)),
        start.timeoutMs,
      );
      loadgen.child.on('message', (m: unknown) => {
        if (!isReply(m)) return reject(new Error('loadgen sent something that is not a result'));
        if (m.type !== 'disrupt') return resolve(m);
        const done = start.onDisrupt ? start.onDisrupt() : Promise.resolve();
        done.then(
          () => loadgen.child.send({ type: 'disrupted' } satisfies ToLoadgen),
          (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
        );
      });
      void loadgen.exited.then(() =>
        reject(new Error(`loadgen exited without a result:\n${loadgen.output()}`)),
      );
      loadgen.child.send(message);
    });
    if (reply.type === 'failed') throw new Error(reply.message);
    return reply;
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

function unexpected(reply: FromLoadgen): Error {
  return new Error(`loadgen answered ${reply.type}`);
}

export async function runLoadgen(
  root: string,
  plan: LoadPlan,
  cpus: string | undefined,
  timeoutMs: number,
  nodeArgs: string[] = [],
): Promise<LoadResult> {
  const reply = await converse({ root, cpus, timeoutMs, nodeArgs }, { type: 'plan', plan });
  if (reply.type !== 'result') throw unexpected(reply);
  return reply.result;
}

export async function runStorm(start: LoadgenStart, plan: StormPlan): Promise<StormResult> {
  const reply = await converse(start, { type: 'storm', plan });
  if (reply.type !== 'storm-result') throw unexpected(reply);
  return reply.result;
}

export async function runHold(start: LoadgenStart, plan: HoldPlan): Promise<HoldResult> {
  const reply = await converse(start, { type: 'hold', plan });
  if (reply.type !== 'hold-result') throw unexpected(reply);
  return reply.result;
}
