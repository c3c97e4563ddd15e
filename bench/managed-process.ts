import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';

/**
 * Child processes the bench starts: pinned to CPUs with taskset where it exists,
 * their last output lines kept for error messages, and all of them killed if the
 * bench itself stops early.
 */

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that fits.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping what it started\n`);
      process.exit(130);
    });
  }
}

let tasksetChecked: boolean | undefined;

/** Whether `taskset` can pin processes here. */
export function canPin(): boolean {
  tasksetChecked ??= spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  return tasksetChecked;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** A taskset CPU list such as "1" or "0,1"; ignored where taskset is missing. */
  cpus?: string | undefined;
  /** Adds an IPC channel (for a Node child). */
  ipc?: boolean;
}

export class ManagedProcess {
  private readonly tail: string[] = [];
  readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    // taskset execs the command, so the pid is the measured process's own.
    this.exited = once(child, 'exit').then(() => undefined);
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.tail.push(line.slice(0, 300));
        if (this.tail.length > 20) this.tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static start(options: StartOptions): ManagedProcess {
    installExitHook();
    const pinned = options.cpus !== undefined && canPin();
    const command = pinned ? 'taskset' : options.command;
    const args = pinned ? ['-c', options.cpus!, options.command, ...options.args] : options.args;
    const stdio: StdioOptions = options.ipc
      ? ['ignore', 'pipe', 'pipe', 'ipc']
      : ['ignore', 'pipe', 'pipe'];
    const child = spawn(command, args, { env: options.env ?? process.env, stdio });
    if (child.pid === undefined) throw new Error(`${options.name}: could not start ${command}`);
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new ManagedProcess(options.name, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process wrote, for an error message. */
  output(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; at once with SIGKILL when `graceMs` is 0. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    if (graceMs <= 0) {
      this.child.kill('SIGKILL');
      await this.exited;
      return;
    }
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([this.exited.then(() => 'exited' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout' && this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
