import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ARMS, type ArmId, type RunningArm } from './arms';
import type { HoldResult, StormResult } from './loadgen/contract';
import type { Options } from './options';
import { PORTS_PER_ADDRESS } from './loadgen/hold-run';
import { loopbackReferenceUs } from './loopback-reference';
import { pingCycleWindows } from './ping-cycles';
import { runHold, runStorm } from './run-loadgen';

/**
 * The two scenarios of issue #14 that are not rounds of the load run: a reconnect
 * storm on each arm, and many connections held by one Switchboard process.
 */

export const STORM_TEAM_SIZE = 100;
/** Live team messages per second during the storm: about 5,000 deliveries/s in teams of 100. */
export const STORM_MESSAGES_PER_S = 50;
const STORM_TIMEOUT_MS = 60_000;
/** Deliveries/s of the fixed load while connections are held. */
export const HOLD_DELIVERIES_PER_S = 20_000;
/** HEARTBEAT_MS of the process holding the connections: the server's default, set so the report knows it. */
export const HOLD_HEARTBEAT_MS = 25_000;
/** Raised in the shell that starts each process; falls back to the hard limit when not root. */
export const FD_PRELUDE = 'ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"';

export interface StormRecord {
  arm: ArmId;
  label: string;
  result?: StormResult;
  error?: string;
}

export interface HoldRecord {
  label: string;
  /** Connections asked for; the run holds fewer when the fd limit is lower. */
  asked: number;
  fdLimit: number;
  sourceAddresses: number;
  /** Absent in results written before it was recorded: those ran at HOLD_HEARTBEAT_MS. */
  heartbeatMs?: number;
  /**
   * CPU µs per loopback ping/pong round trip just before the run (loopback-reference.ts):
   * how fast the machine ran then. Absent in results written before it was recorded.
   */
  loopbackReferenceUs?: number;
  result?: HoldResult;
  error?: string;
}

/** The arms a storm applies to: the corked raw ws reconnects exactly like raw ws. */
export function stormArms(arms: ArmId[]): ArmId[] {
  return arms.filter((a) => a !== 'raw-ws-corked');
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function runStormOnce(root: string, armId: ArmId, o: Options): Promise<StormRecord> {
  const arm = ARMS[armId];
  let running: RunningArm | undefined;
  try {
    running = await arm.start({
      root,
      serverCpus: o.serverCpus,
      // The restarted (memory) or surviving (Redis) node writes its profile on a clean stop.
      nodeArgs: o.cpuProf
        ? ['--cpu-prof', '--cpu-prof-dir', join(root, 'dist', 'bench-profiles', `storm-${armId}`)]
        : [],
      stopGraceMs: o.cpuProf ? 10_000 : 0,
      prelude: FD_PRELUDE,
    });
    const target = running.storm;
    const result = await runStorm(
      {
        root,
        cpus: o.clientCpus,
        timeoutMs: 300_000 + o.stormConnections * 20,
        prelude: FD_PRELUDE,
        onDisrupt: () => target.disrupt(),
      },
      {
        arm: armId,
        protocol: arm.protocol,
        ports: target.ports,
        disruptedPort: target.disruptedPort,
        reconnectPort: target.reconnectPort,
        connections: o.stormConnections,
        teamSize: Math.min(STORM_TEAM_SIZE, o.stormConnections),
        connectConcurrency: o.concurrency,
        messagesPerS: STORM_MESSAGES_PER_S,
        resume: arm.protocol === 'switchboard' && armId !== 'raw-ws',
        payloadBytes: o.payloadBytes,
        stormTimeoutMs: STORM_TIMEOUT_MS,
      },
    );
    return { arm: armId, label: arm.label, result };
  } catch (err) {
    return { arm: armId, label: arm.label, error: message(err) };
  } finally {
    await running?.stop();
  }
}

function fdLimit(): number {
  const out = spawnSync('sh', ['-c', `${FD_PRELUDE} && ulimit -n`], { encoding: 'utf8' });
  const n = Number(out.stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : 1024;
}

export async function runHoldOnce(root: string, o: Options): Promise<HoldRecord> {
  const limit = fdLimit();
  // Each side holds one descriptor per connection, plus its own few hundred.
  const connections = Math.min(o.holdConnections, limit - 1000);
  // A tenth of each address's ports spare, for ports another socket holds.
  const sourceAddresses = Math.max(1, Math.ceil(connections / (PORTS_PER_ADDRESS * 0.9)));
  const record: HoldRecord = {
    label: ARMS['switchboard-memory'].label,
    asked: o.holdConnections,
    fdLimit: limit,
    sourceAddresses,
    heartbeatMs: HOLD_HEARTBEAT_MS,
  };
  let running: RunningArm | undefined;
  try {
    record.loopbackReferenceUs = await loopbackReferenceUs();
    running = await ARMS['switchboard-memory'].start({
      root,
      serverCpus: o.serverCpus,
      // 100,000 sockets outgrow the default heap limit; a deployment would set it too.
      nodeArgs: ['--max-old-space-size=8192'],
      stopGraceMs: 0,
      prelude: FD_PRELUDE,
      env: { HEARTBEAT_MS: String(HOLD_HEARTBEAT_MS) },
    });
    const server = running.processes[0];
    if (!server || !running.adminToken) throw new Error('no Switchboard process');
    record.result = await runHold(
      {
        root,
        cpus: o.clientCpus,
        timeoutMs: 600_000 + o.holdIdleMs,
        nodeArgs: ['--max-old-space-size=8192'],
        prelude: FD_PRELUDE,
      },
      {
        arm: 'switchboard-memory',
        protocol: 'switchboard',
        port: running.publisherPort,
        serverPid: server.pid,
        adminToken: running.adminToken,
        connections,
        teamSize: STORM_TEAM_SIZE,
        connectConcurrency: o.concurrency,
        sourceAddresses,
        idleWindowsMs: pingCycleWindows(o.holdIdleMs, HOLD_HEARTBEAT_MS),
        latencyMs: o.holdLatencyMs,
        deliveriesPerS: HOLD_DELIVERIES_PER_S,
        payloadBytes: o.payloadBytes,
        clockTicksPerS: clockTicks(),
      },
    );
  } catch (err) {
    record.error = message(err);
  } finally {
    await running?.stop();
  }
  return record;
}

function clockTicks(): number {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}
