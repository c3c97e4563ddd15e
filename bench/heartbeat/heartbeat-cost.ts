import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { ManagedProcess } from '../managed-process';
import { waitForHttp } from '../network';
import { cpuTimes } from '../proc-stats';
import { freePort } from '../../support/free-port';
import { loopbackReferenceUs } from '../loopback-reference';

/**
 * The heartbeat's CPU on its own (issue #14): a Switchboard process (memory engine)
 * holds N idle sockets from a holder process that answers pings as ws does, and the
 * server's user and system CPU is read from /proc over whole ping cycles (two beats:
 * a socket heard from at a look is not pinged at that look), each on its own, the
 * quietest kept. Each arm runs with its beat and with the heartbeat off (a beat of
 * 23 days), same N, same steps, in alternating rounds; the difference is the
 * heartbeat's, per connection per beat. Usage (after `npm run build` and `tsc -p bench/tsconfig.json`):
 *
 *   node dist/bench/heartbeat/heartbeat-cost.js [--connections N] [--beat-ms MS]
 *     [--cycles C] [--rounds R] [--settle-s S] [--cpus LIST] [--node-arg ARG]...
 *     [--server-log FILE] name=repo-root [name=repo-root ...]
 *
 * Each repo root must hold a built dist/app/main.js; two roots (a worktree of the old
 * code and this one) give an A/B, arms alternating in order from round to round.
 */

const OFF_BEAT_MS = 2_000_000_000;
const CLK_TCK =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

interface Options {
  connections: number;
  beatMs: number;
  cycles: number;
  rounds: number;
  settleMs: number;
  cpus: string | undefined;
  nodeArgs: string[];
  /** Where each server's stdout goes (for --trace-gc), with the window's times; none if undefined. */
  serverLog: string | undefined;
  arms: { name: string; root: string }[];
}

function parse(argv: string[]): Options {
  const o: Options = {
    connections: 10_000,
    beatMs: 2000,
    cycles: 5,
    rounds: 3,
    settleMs: 4000,
    cpus: undefined,
    nodeArgs: [],
    serverLog: undefined,
    arms: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => argv[++i] ?? '';
    if (a === '--connections') o.connections = Number(value());
    else if (a === '--beat-ms') o.beatMs = Number(value());
    else if (a === '--cycles') o.cycles = Number(value());
    else if (a === '--rounds') o.rounds = Number(value());
    else if (a === '--settle-s') o.settleMs = Number(value()) * 1000;
    else if (a === '--cpus') o.cpus = value();
    else if (a === '--node-arg') o.nodeArgs.push(value());
    else if (a === '--server-log') o.serverLog = value();
    else if (a.includes('=')) {
      const [name, root] = a.split('=') as [string, string];
      o.arms.push({ name, root: resolve(root) });
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.arms.length === 0) throw new Error('name=repo-root: at least one arm');
  return o;
}

interface Cell {
  user: number;
  sys: number;
  holderUser: number;
  holderSys: number;
  windowS: number;
  dropped: number;
}

let nextSourcePort = 10_000;

async function cell(o: Options, root: string, beatMs: number): Promise<Cell> {
  const port = await freePort();
  const server = ManagedProcess.start({
    name: 'switchboard',
    command: 'sh',
    args: [
      '-c',
      `ulimit -n $(ulimit -Hn) && exec "$@"`,
      'switchboard',
      process.execPath,
      ...o.nodeArgs,
      join(root, 'dist', 'app', 'main.js'),
    ],
    env: {
      PATH: process.env['PATH'],
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ID: 'heartbeat-cost',
      ADMIN_TOKEN: randomBytes(24).toString('hex'),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_S: '0',
      MAX_CONNECTIONS_PER_IP: '0',
      HEARTBEAT_MS: String(beatMs),
    },
    cpus: o.cpus,
  });
  const started = performance.now();
  const log =
    o.serverLog === undefined ? undefined : createWriteStream(o.serverLog, { flags: 'a' });
  log?.write(`--- server ${root} HEARTBEAT_MS ${beatMs}\n`);
  server.child.stdout?.pipe(log ?? new PassThrough().resume(), { end: false });
  try {
    await waitForHttp(server, port, '/api/ready');
  } catch (err) {
    await server.stop(0);
    throw err;
  }
  const firstPort = nextSourcePort;
  nextSourcePort += o.connections;
  const holder = ManagedProcess.start({
    name: 'holder',
    command: 'sh',
    args: [
      '-c',
      `ulimit -n $(ulimit -Hn) && exec "$@"`,
      'holder',
      process.execPath,
      join(__dirname, 'idle-holder.js'),
      String(port),
      String(o.connections),
      String(firstPort),
    ],
    ipc: true,
  });
  try {
    let dropped = 0;
    const ready = new Promise<void>((done, fail) => {
      holder.child.on('message', (m: { type: string }) => {
        if (m.type === 'ready') done();
        else if (m.type === 'dropped') dropped++;
      });
      holder.exited.then(() => fail(new Error(`holder exited:\n${holder.output()}`)));
    });
    await ready;
    // Past the joins' presence fan-out and a few beats, so the window sees steady state.
    await sleep(o.settleMs);
    // One window per ping cycle, the quietest kept: a one-off such as V8's memory
    // reducer (full GCs about a minute after the connects) lands in one of them.
    let quietest: Omit<Cell, 'dropped'> | undefined;
    for (let c = 0; c < o.cycles; c++) {
      const s0 = cpuTimes(server.pid, CLK_TCK);
      const h0 = cpuTimes(holder.pid, CLK_TCK);
      const t0 = performance.now();
      log?.write(`--- window from ${(t0 - started).toFixed(0)} ms after spawn\n`);
      await sleep(2 * o.beatMs);
      log?.write(`--- window to ${(performance.now() - started).toFixed(0)} ms after spawn\n`);
      const s1 = cpuTimes(server.pid, CLK_TCK);
      const h1 = cpuTimes(holder.pid, CLK_TCK);
      const window = {
        user: s1.user - s0.user,
        sys: s1.sys - s0.sys,
        holderUser: h1.user - h0.user,
        holderSys: h1.sys - h0.sys,
        windowS: (performance.now() - t0) / 1000,
      };
      if (!quietest || window.user + window.sys < quietest.user + quietest.sys) quietest = window;
    }
    return { ...quietest!, dropped };
  } finally {
    await holder.stop(0);
    // A clean exit writes a --cpu-prof profile.
    await server.stop(o.nodeArgs.length > 0 ? 20_000 : 0);
    log?.end();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  // Each cell is the quietest single cycle.
  const beats = 2;
  // µs of CPU per connection per beat, from CPU seconds over the window.
  const perBeat = (cpuS: number) => (cpuS / (o.connections * beats)) * 1e6;
  const results = new Map<
    string,
    { user: number[]; sys: number[]; hUser: number[]; hSys: number[] }
  >();
  console.log(
    `heartbeat-cost: ${o.connections} connections, beat ${o.beatMs} ms, the quietest of ${o.cycles} cycles of ${beats} beats, ${o.rounds} rounds, CLK_TCK ${CLK_TCK}`,
  );
  const references: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const reference = await loopbackReferenceUs();
    references.push(reference);
    console.log(`round ${r + 1}: loopback reference ${reference.toFixed(2)} µs per round trip`);
    // Alternate the order each round so no arm always runs first.
    const arms = r % 2 === 0 ? o.arms : [...o.arms].reverse();
    for (const arm of arms) {
      const on = await cell(o, arm.root, o.beatMs);
      const off = await cell(o, arm.root, OFF_BEAT_MS);
      const entry = results.get(arm.name) ?? { user: [], sys: [], hUser: [], hSys: [] };
      entry.user.push(perBeat(on.user - off.user));
      entry.sys.push(perBeat(on.sys - off.sys));
      entry.hUser.push(perBeat(on.holderUser - off.holderUser));
      entry.hSys.push(perBeat(on.holderSys - off.holderSys));
      results.set(arm.name, entry);
      const f = (x: number) => x.toFixed(2);
      console.log(
        `round ${r + 1} ${arm.name}: server on user ${f(on.user)} s sys ${f(on.sys)} s, off user ${f(off.user)} s sys ${f(off.sys)} s` +
          ` (window ${on.windowS.toFixed(1)} s); per conn per beat: user ${f(entry.user.at(-1)!)} µs sys ${f(entry.sys.at(-1)!)} µs;` +
          ` holder user ${f(entry.hUser.at(-1)!)} sys ${f(entry.hSys.at(-1)!)} µs; dropped ${on.dropped + off.dropped}`,
      );
    }
  }
  console.log(
    `loopback reference (machine speed; see bench/loopback-reference.ts): median ${median(references).toFixed(2)} µs per round trip`,
  );
  for (const [name, e] of results) {
    const total = e.user.map((u, i) => u + e.sys[i]!);
    const f = (xs: number[]) =>
      `${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(2)).join(', ')}]`;
    console.log(
      `${name}: server µs/conn/beat median total ${f(total)}, user ${f(e.user)}, sys ${f(e.sys)};` +
        ` at 25 s beats and 100,000 connections ${((median(total) * 4000) / 1e4).toFixed(1)} % of a core;` +
        ` holder user ${f(e.hUser)}, sys ${f(e.hSys)}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
