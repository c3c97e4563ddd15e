/**
 * One chaos run (npm run chaos; the short CI test calls it too): three nodes
 * (`node dist/app/main.js`) on one redis-server, clients in several teams, and
 * every fault of the schedule below at least once while they talk. Then quiet, a
 * final sync round, and the checker (chaos-check.ts).
 *
 * Teams: a quiet team (one sender that speaks in bursts, silent longer than
 * HISTORY_TTL_S in between, so its keys expire), a pubsub team (silent until its
 * burst lands while every node's subscriber connection is killed, then speaking
 * every quarter TTL from a client on the one node no fault touches, so its keys
 * never expire), and busy teams (several senders all
 * along). Every team has idle members that only listen, one of them joining
 * late (after the team has history); the pubsub team gets one more idle member
 * right before Redis is killed. Every team speaks once more at the end so the
 * final sync has something to compare.
 *
 * Schedule, over `seconds` of traffic (S): t=0 quiet burst; t=1 late joiners;
 * t=2 CLIENT KILL TYPE pubsub, then the pubsub burst; every 2.5 s a sender
 * dropped mid-send; 0.25S kill -9 of node 0 (back 2 s later); 0.45S SIGSTOP of
 * node 1 for a lease and a second, then SIGCONT (0.35S before it, Redis is
 * frozen past the nodes' command timeout); 0.55S the quiet team speaks
 * after its keys expired; 0.65S kill -9 of Redis with publishes in flight (back
 * 1 s later, from its AOF or empty); 0.8S the quiet and pubsub teams speak
 * again; S every team speaks once more.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  check,
  type CheckResult,
  type DeliveredMessage,
  type FinalTeam,
  type Timeline,
} from './chaos-check';
import { ChaosClient } from './chaos-client';
import { startChaosRedis, type Topology } from './chaos-redis';
import { sleep, waitFor } from './flags';
import { kill9, pause, resume, stop } from '../../support/managed';
import { startNode, type StartedNode as NodeProcess } from '../../support/node-process';

export type Persistence = 'aof' | 'none';

export interface ChaosOptions {
  persistence: Persistence;
  /**
   * One redis-server (default), or a Redis Cluster of three masters without
   * replicas, where each Redis fault hits the one master holding its team.
   */
  topology?: Topology;
  /** Length of the traffic phase, faults included. */
  seconds: number;
  clients: number;
  teams: number;
  /** Messages per second per busy sender. */
  rate: number;
  /** HISTORY_TTL_S; longer than the Redis freeze, or that freeze resets every team. */
  historyTtlSeconds: number;
  presenceLeaseMs: number;
  log: (line: string) => void;
}

export const FAULT_KINDS = [
  'pubsub-kill',
  'client-drop-mid-send',
  'node-kill-9',
  'node-sigstop',
  'redis-kill-9',
  'redis-sigstop',
  'keys-expired',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosReport {
  persistence: Persistence;
  topology: Topology;
  seconds: number;
  faults: Record<FaultKind, number>;
  faultLog: { at: number; what: string }[];
  result: CheckResult;
  reconnects: number;
  unexpectedErrors: string[];
  serverErrorLines: string[];
  /** No loss, duplicate, reorder, silent gap, unsent message or conflict. */
  pass: boolean;
  /** What the checker judged: every client's frames and the final sync. */
  timeline: Timeline;
}

const NODES = 3;
/** Longer than the command timeout of services/redis/connection.ts (5 s). */
const REDIS_FREEZE_MS = 6000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const run = randomBytes(3).toString('hex');
  const t0 = Date.now();
  const say = (line: string) =>
    log(`chaos[${options.persistence}] t=${((Date.now() - t0) / 1000).toFixed(1)}s ${line}`);
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const faultLog: { at: number; what: string }[] = [];
  const fault = (kind: FaultKind, what: string) => {
    faults[kind]++;
    faultLog.push({ at: Math.round((Date.now() - t0) / 100) / 10, what });
    say(what);
  };

  const topology = options.topology ?? 'single';
  const redis = await startChaosRedis(topology, options.persistence === 'aof');
  const prefix = `c${run}:`;
  const adminToken = randomBytes(16).toString('hex');
  const env = (i: number, generation: number): Record<string, string> => ({
    ADMIN_TOKEN: adminToken,
    NODE_ID: `chaos-${i}-${generation}`,
    ...redis.env,
    REDIS_KEY_PREFIX: prefix,
    PRESENCE_LEASE_MS: String(options.presenceLeaseMs),
    HISTORY_TTL_S: String(options.historyTtlSeconds),
    HISTORY_SIZE: '100000',
    RATE_LIMIT_PER_S: '0',
  });
  const nodes: NodeProcess[] = [];
  const everyNode: NodeProcess[] = [];
  const down = new Set<number>();
  const clients: ChaosClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    // Together: each start is a second or more of module loading. Each node is kept as it
    // comes up, so a failed start still leaves the others to the cleanup below.
    const starts = await Promise.allSettled(
      Array.from({ length: NODES }, async (_, i) => {
        nodes[i] = await startNode(env(i, 0));
        everyNode.push(nodes[i]!);
      }),
    );
    for (const start of starts) if (start.status === 'rejected') throw start.reason;
    const cluster = {
      ports: () => nodes.filter((_, i) => !down.has(i)).map((n) => n.port),
    };
    say(
      `${redis.describe()} (${options.persistence}), nodes ${nodes.map((n) => n.port).join(', ')}`,
    );

    // Teams and roles.
    const teamCount = Math.max(3, options.teams);
    const perTeam = Math.max(3, Math.floor(options.clients / teamCount));
    const quiet = `${run}-quiet`;
    const pubsub = `${run}-pubsub`;
    const teams = [
      quiet,
      pubsub,
      ...Array.from({ length: teamCount - 2 }, (_, i) => `${run}-busy-${i}`),
    ];
    // Node 2, which no node fault touches: late joiners and the idle member stay on it, so
    // a reconnect (and its resume, a notice) never moves their starting point by chance.
    const steady = { ports: () => [nodes[2]!.port] };
    const senders = new Map<string, ChaosClient[]>();
    const lateJoiners: ChaosClient[] = [];
    for (const team of teams) {
      const busy = team !== quiet && team !== pubsub;
      const senderCount = busy ? Math.max(2, Math.ceil(perTeam / 2) - 1) : 1;
      const list: ChaosClient[] = [];
      for (let i = 0; i < perTeam; i++) {
        const role = i < senderCount ? 's' : i === perTeam - 1 ? 'late' : 'l';
        const client = new ChaosClient(
          `${role}${i}-${team.slice(run.length + 1)}`,
          team,
          run,
          role === 'late' ? steady : cluster,
        );
        clients.push(client);
        if (role === 's') list.push(client);
        if (role === 'late') lateJoiners.push(client);
      }
      senders.set(team, list);
    }
    // Joins the pubsub team right before Redis is killed, after the team's last message: an
    // idle member whose starting point is the head of an epoch that may be about to go.
    const idle = new ChaosClient(`idle-${pubsub.slice(run.length + 1)}`, pubsub, run, steady);
    // Keeps the pubsub team's keys alive once it has spoken, from the steady node, so a
    // frozen or killed node cannot silence it past the TTL.
    const pulser = new ChaosClient(`pulse-${pubsub.slice(run.length + 1)}`, pubsub, run, steady);
    clients.push(pulser);
    const early = clients.filter((c) => !lateJoiners.includes(c));
    clients.push(idle);
    for (const c of early) c.start();
    if (!(await waitFor(() => early.every((c) => c.connected), 30_000)))
      throw new Error('clients did not all connect');
    say(`${clients.length} clients in ${teams.length} teams (${lateJoiners.length} join late)`);

    const busySenders = teams
      .filter((t) => t !== quiet && t !== pubsub)
      .flatMap((t) => senders.get(t)!);
    const burst = async (team: string, count: number, gapMs: number) => {
      const sender = senders.get(team)![0]!;
      for (let i = 0; i < count; i++) {
        if (!sender.send()) await waitFor(() => sender.send(), 10_000);
        await sleep(gapMs);
      }
    };
    const S = options.seconds * 1000;
    const start = Date.now();
    const until = async (ms: number) => {
      const left = start + ms - Date.now();
      if (left > 0) await sleep(left);
    };
    for (const sender of busySenders) {
      timers.push(setInterval(() => sender.send(), 1000 / options.rate + Math.random() * 50));
    }
    const dropper = setInterval(() => {
      const connected = busySenders.filter((c) => c.connected);
      const victim = connected[Math.floor(Math.random() * connected.length)];
      if (victim?.dropMidSend()) fault('client-drop-mid-send', `${victim.id} dropped mid-send`);
    }, 2500);
    timers.push(dropper);

    await burst(quiet, 5, 50);
    await until(1000);
    for (const c of lateJoiners) c.start();
    await waitFor(() => lateJoiners.every((c) => c.connected), 10_000);

    await until(2000);
    // The team's first messages land while the subscribers reconnect: they are only in the
    // stream, and no node has delivered anything of this team yet.
    await redis.killPubsub();
    fault('pubsub-kill', 'CLIENT KILL TYPE pubsub (then the idle pubsub team bursts)');
    await burst(pubsub, 30, 10);
    // From now on the pubsub team speaks every quarter TTL, so its keys never expire: what
    // it shows later is the pub/sub drop and the Redis restart, not expiry.
    let pulsing = true;
    timers.push(
      setInterval(() => {
        if (pulsing) pulser.send();
      }, options.historyTtlSeconds * 250),
    );

    await until(0.25 * S);
    fault('node-kill-9', 'kill -9 node 0');
    down.add(0);
    await kill9(nodes[0]!);
    await sleep(2000);
    nodes[0] = await startNode(env(0, 1));
    everyNode.push(nodes[0]);
    down.delete(0);
    say('node 0 restarted');

    // On a cluster: the master of a busy team (their senders burst below), one other than
    // the pubsub team's where there is one, since Redis is killed there later: so two
    // masters take a fault.
    const seqKey = (team: string) => `${prefix}{${team}}:seq`;
    const killedLater = await redis.holder(seqKey(pubsub));
    const candidates = await Promise.all(teams.slice(2).map((t) => redis.holder(seqKey(t))));
    const frozen = candidates.find((h) => h.index !== killedLater.index) ?? candidates[0]!;

    await until(0.35 * S);
    // Frozen past the nodes' Redis command timeout (5 s): the publishes waiting in its
    // socket are answered by the timeout, then run when it wakes. Shorter than the TTL,
    // so no key expires meanwhile.
    fault('redis-sigstop', `SIGSTOP ${frozen.name} for ${REDIS_FREEZE_MS} ms`);
    redis.freeze(frozen);
    // What is sent 0.4-1 s into the freeze times out (unavailable) just before Redis
    // wakes and stores it, and is seen stored before the client's resend: more of it
    // makes that case certain to occur.
    await sleep(400);
    const burstInFreeze = setInterval(() => {
      for (const sender of busySenders) sender.send();
    }, 50);
    await sleep(600);
    clearInterval(burstInFreeze);
    await sleep(REDIS_FREEZE_MS - 1000);
    redis.thaw();
    say(`SIGCONT ${frozen.name}`);

    await until(0.45 * S);
    fault('node-sigstop', `SIGSTOP node 1 for ${options.presenceLeaseMs + 1000} ms`);
    down.add(1);
    pause(nodes[1]!);
    await sleep(options.presenceLeaseMs + 1000);
    resume(nodes[1]!);
    down.delete(1);
    say('SIGCONT node 1');

    await until(Math.max(0.55 * S, (options.historyTtlSeconds + 2) * 1000));
    // On a loaded machine the quiet burst's last write (a resend after a fault) may land
    // late and restart its TTL. The key says when it goes: wait that long, bounded by one
    // full TTL, since nothing of the quiet team is sent meanwhile.
    const quietKey = `${prefix}{${quiet}}:seq`;
    let expired = false;
    for (const deadline = Date.now() + options.historyTtlSeconds * 1000 + 2000; ;) {
      const left = await redis.pttl(quietKey);
      expired = left === -2;
      if (expired || left < 0 || Date.now() + left > deadline) break;
      await sleep(left + 50);
    }
    if (expired) fault('keys-expired', 'quiet team speaks after its keys expired');
    else say('quiet team keys had not expired (no keys-expired fault this run)');
    await burst(quiet, 5, 50);

    await until(0.65 * S - 800);
    pulsing = false;
    pulser.send();
    await sleep(200);
    idle.start();
    await waitFor(() => idle.connected, 10_000);
    // On a cluster: the master holding the pubsub team, which the idle member just joined.
    const victim = await redis.holder(seqKey(pubsub));
    await until(0.65 * S);
    // Publishes in flight when Redis dies: with the AOF, Redis writes a script's effects
    // to the file before it answers, so some are stored but never answered, which is
    // what `indeterminate` is for.
    const flood = setInterval(() => {
      for (const sender of busySenders) sender.send();
    }, 2);
    await sleep(20);
    fault(
      'redis-kill-9',
      `kill -9 ${victim.name} (${options.persistence}) with publishes in flight`,
    );
    const killed = redis.kill(victim);
    clearInterval(flood);
    await killed;
    await sleep(1000);
    await redis.restart();
    pulsing = true;
    say(`${victim.name} restarted`);

    await until(0.8 * S);
    await Promise.all([burst(quiet, 5, 50), burst(pubsub, 5, 50)]);

    await until(S);
    for (const t of timers) clearInterval(t);
    timers.length = 0;
    // Every team speaks once more, so the final sync has something to compare with.
    await Promise.all(teams.map((t) => burst(t, 3, 20)));
    say('traffic stopped; waiting for every send to be acknowledged');
    const allAcked = await waitFor(() => clients.every((c) => c.unacked === 0), 30_000, 100);
    if (!allAcked) say(`${clients.reduce((n, c) => n + c.unacked, 0)} sends never acknowledged`);
    // Quiet: no message reached any client for a second (bounded).
    await waitFor(() => clients.every((c) => Date.now() - c.lastMessageAt > 1000), 10_000, 100);

    const finals: FinalTeam[] = [];
    for (const team of teams) finals.push(await finalSync(cluster.ports()[0]!, team, run));
    say('final sync done');

    const timeline = { clients: clients.map((c) => c.record), finals };
    const result = check(timeline);
    const serverErrorLines = everyNode.flatMap((n) => n.errors);
    return {
      persistence: options.persistence,
      topology,
      seconds: Math.round((Date.now() - t0) / 1000),
      faults,
      faultLog,
      result,
      reconnects: clients.reduce((n, c) => n + c.reconnects, 0),
      unexpectedErrors: clients.flatMap((c) => c.unexpected).slice(0, 20),
      serverErrorLines: serverErrorLines.slice(0, 20),
      timeline,
      pass:
        result.lost +
          result.lostFromStore +
          result.duplicated +
          result.reordered +
          result.silentGaps +
          result.unsent +
          result.refConflicts +
          result.seqConflicts +
          result.unavailableButStored ===
        0,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    for (const c of clients) c.stop();
    for (const node of nodes) if (node) resume(node);
    await Promise.all(nodes.map((n) => (n ? stop(n, 3000) : Promise.resolve())));
    await redis.stop();
  }
}

/**
 * The team as the cluster holds it: a fresh connection's welcome (epoch, head)
 * and its whole retained history, a page at a time. A probe of its own, so no
 * client's stream is touched.
 */
async function finalSync(port: number, team: string, run: string): Promise<FinalTeam> {
  const q = new URLSearchParams({ id: `${run}-probe`, name: 'probe', teamId: team });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket?${q.toString()}`);
  const frames: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (raw) => {
    frames.push(JSON.parse(raw.toString()) as Record<string, unknown>);
    wake?.();
  });
  ws.on('error', () => undefined);
  const next = async (type: string): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const at = frames.findIndex((f) => f['type'] === type);
      if (at >= 0) return frames.splice(at, 1)[0]!;
      if (Date.now() > deadline || ws.readyState > WebSocket.OPEN)
        throw new Error(`final sync of ${team}: no ${type} frame`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  try {
    const welcome = await next('welcome');
    const messages: DeliveredMessage[] = [];
    let before: number | undefined;
    for (let page = 0; page < 10_000; page++) {
      ws.send(JSON.stringify({ type: 'history', limit: 200, ...(before ? { before } : {}) }));
      const reply = await next('history');
      const list = reply['messages'] as {
        id: string;
        seq: number;
        from: { id: string };
        data: unknown;
      }[];
      messages.unshift(
        ...list.map((m) => ({ id: m.id, seq: m.seq, from: m.from.id, data: m.data })),
      );
      if (reply['more'] !== true || list.length === 0) break;
      before = list[0]!.seq;
    }
    return { team, epoch: String(welcome['epoch']), head: Number(welcome['seq']), messages };
  } finally {
    ws.terminate();
  }
}
