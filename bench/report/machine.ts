import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

/** The machine a result was measured on, so numbers from different machines are not compared. */
export interface Machine {
  cpuModel: string;
  logicalCores: number;
  nodeVersion: string;
  os: string;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages: other work on the machine makes numbers noisy. */
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  pinning: { server: string; client: string } | 'none';
  commit: string;
  /** The working tree had changes that are not in `commit`. */
  dirty: boolean;
}

function git(root: string, args: string[]): string {
  const out = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : '';
}

export function describeMachine(
  root: string,
  serverCpus: string | undefined,
  clientCpus: string | undefined,
): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    logicalCores: list.length,
    nodeVersion: process.version,
    os: `${type()} ${release()}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
    loadAverageAtEnd: [],
    pinning:
      serverCpus === undefined || clientCpus === undefined
        ? 'none'
        : { server: serverCpus, client: clientCpus },
    commit: git(root, ['rev-parse', '--short', 'HEAD']) || 'unknown',
    dirty: git(root, ['status', '--porcelain']) !== '',
  };
}

export function machineLine(m: Machine): string {
  const pin =
    m.pinning === 'none'
      ? 'not pinned'
      : `servers on CPU ${m.pinning.server}, load generator on CPU ${m.pinning.client}`;
  return (
    `${m.cpuModel}, ${m.logicalCores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.nodeVersion}; ${pin}; ` +
    `commit ${m.commit}${m.dirty ? ' (with local changes)' : ''}`
  );
}
