/**
 * Load and soak run (npm run soak; not part of CI). Starts one server as
 * `node dist/app/main.js` on 127.0.0.1, holds N connections in teams, sends steady
 * traffic for T minutes, and checks every delivery by seq: per connection the
 * messages arrive in increasing seq, and in the end each connection has seen every
 * seq of its team (its own sends through acks) exactly once. The server's RSS is
 * sampled throughout. Everything is bounded; the script stops what it started.
 *
 *   npm run soak -- --connections 2000 --minutes 1 [--team-size 20] [--rate 200] [--out file.json]
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { intFlag, percentile, sleep, stringFlag, waitFor } from './lib/flags';
import { exitOnSignals, stop, watchdog } from '../support/managed';
import { startNode } from '../support/node-process';
import { rssMiB } from '../support/rss';
import { runScript } from './lib/run-script';

const connections = intFlag('connections', 2000, 1, 20_000);
const minutes = intFlag('minutes', 1, 0.1, 60);
const teamSize = intFlag('team-size', 20, 2, 1000);
/** Messages a second across all connections; by default each connection sends every 10 s. */
const rate = intFlag('rate', Math.max(1, Math.round(connections / 10)), 1, 20_000);
const sampleMs = intFlag('sample-ms', 5000, 500, 60_000);
const out = stringFlag('out');

const ADMIN_TOKEN = randomBytes(16).toString('hex');

interface Conn {
  ws: WebSocket;
  id: string;
  teamId: string;
  open: boolean;
  /** seq of the welcome: the first seq this connection must see is one more. */
  startSeq: number;
  lastMessageSeq: number;
  /** seqs this connection saw: deliveries of others' messages and acks of its own. */
  seen: Set<number>;
  duplicates: number;
  outOfOrder: number;
  pending: Set<string>;
  errors: number;
  closedBy?: number;
}

const lagMs: number[] = [];
let sent = 0;
let acked = 0;
let delivered = 0;

function openConn(port: number, index: number): Promise<Conn> {
  const id = `s${index}`;
  const teamId = `team-${Math.floor(index / teamSize)}`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket?id=${id}&name=${id}&teamId=${teamId}`, {
    perMessageDeflate: false,
  });
  const conn: Conn = {
    ws,
    id,
    teamId,
    open: false,
    startSeq: -1,
    lastMessageSeq: 0,
    seen: new Set(),
    duplicates: 0,
    outOfOrder: 0,
    pending: new Set(),
    errors: 0,
  };
  return new Promise((resolve, reject) => {
    ws.on('error', (err) => {
      if (!conn.open) reject(err);
    });
    ws.on('close', (code) => {
      conn.open = false;
      conn.closedBy = code;
    });
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
      switch (frame['type']) {
        case 'welcome':
          conn.open = true;
          conn.startSeq = frame['seq'] as number;
          conn.lastMessageSeq = conn.startSeq;
          resolve(conn);
          return;
        case 'message': {
          const seq = frame['seq'] as number;
          delivered++;
          if (seq <= conn.lastMessageSeq) conn.outOfOrder++;
          conn.lastMessageSeq = Math.max(conn.lastMessageSeq, seq);
          if (conn.seen.has(seq)) conn.duplicates++;
          conn.seen.add(seq);
          const data = frame['data'] as { at?: number } | null;
          if (data && typeof data.at === 'number' && lagMs.length < 2_000_000)
            lagMs.push(Date.now() - data.at);
          return;
        }
        case 'ack': {
          const seq = frame['seq'] as number;
          acked++;
          conn.pending.delete(frame['ref'] as string);
          if (conn.seen.has(seq)) conn.duplicates++;
          conn.seen.add(seq);
          return;
        }
        case 'error':
          conn.errors++;
          conn.pending.delete(frame['ref'] as string);
          return;
        default:
          return;
      }
    });
  });
}

async function openAll(port: number): Promise<Conn[]> {
  const conns: Conn[] = [];
  let next = 0;
  const worker = async () => {
    while (next < connections) {
      const index = next++;
      conns[index] = await openConn(port, index);
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  return conns;
}

async function main(): Promise<boolean> {
  const runMs = minutes * 60_000;
  exitOnSignals();
  watchdog(runMs + 5 * 60_000, 'soak');
  const server = await startNode({
    ADMIN_TOKEN,
    NODE_ID: 'soak',
    MAX_CONNECTIONS_PER_IP: '0',
  });
  const samples: {
    s: number;
    rssMiB: number;
    clientRssMiB: number;
    sent: number;
    delivered: number;
  }[] = [];
  const t0 = Date.now();
  const sample = () =>
    samples.push({
      s: Math.round((Date.now() - t0) / 1000),
      rssMiB: rssMiB(server.pid),
      clientRssMiB: Math.round(process.memoryUsage().rss / 104857.6) / 10,
      sent,
      delivered,
    });
  sample();
  process.stderr.write(
    `soak: server pid ${server.pid} on port ${server.port}; opening ${connections} connections\n`,
  );
  const openStarted = Date.now();
  const conns = await openAll(server.port);
  const openSeconds = (Date.now() - openStarted) / 1000;
  sample();
  process.stderr.write(
    `soak: ${conns.length} open in ${openSeconds.toFixed(1)} s; traffic for ${minutes} min at ${rate} msg/s\n`,
  );
  const sampler = setInterval(() => {
    sample();
    const last = samples.at(-1)!;
    process.stderr.write(
      `soak: t=${last.s}s server RSS ${last.rssMiB} MiB, sent ${sent}, acked ${acked}, delivered ${delivered}\n`,
    );
  }, sampleMs);

  // Steady traffic: every 100 ms, rate/10 sends from random open connections.
  const perTick = rate / 10;
  let carry = 0;
  const trafficEnds = Date.now() + runMs;
  while (Date.now() < trafficEnds) {
    carry += perTick;
    while (carry >= 1) {
      carry -= 1;
      const conn = conns[Math.floor(Math.random() * conns.length)]!;
      if (!conn.open) continue;
      const ref = `r${sent}`;
      conn.pending.add(ref);
      conn.ws.send(JSON.stringify({ type: 'team', data: { at: Date.now(), n: sent }, ref }));
      sent++;
    }
    await sleep(100);
  }

  // Quiesce: every send answered, then one ping round trip per connection.
  await waitFor(() => conns.every((c) => c.pending.size === 0 || !c.open), 60_000);
  let pongs = 0;
  for (const c of conns) {
    if (!c.open) continue;
    c.ws.on('message', (raw) => {
      if (raw.toString() === '{"type":"pong"}') pongs++;
    });
    c.ws.send('{"type":"ping"}');
  }
  await waitFor(() => pongs >= conns.filter((c) => c.open).length, 60_000);
  clearInterval(sampler);
  sample();

  // Gaps: every seq of the team from the welcome to the team's last must have been seen.
  const head = new Map<string, number>();
  for (const c of conns)
    for (const seq of c.seen) head.set(c.teamId, Math.max(head.get(c.teamId) ?? 0, seq));
  let missing = 0;
  let expected = 0;
  for (const c of conns) {
    const last = head.get(c.teamId) ?? 0;
    for (let seq = c.startSeq + 1; seq <= last; seq++) {
      expected++;
      if (!c.seen.has(seq)) missing++;
    }
  }
  const closedEarly = conns.filter((c) => !c.open).length;
  const health = await fetch(`http://127.0.0.1:${server.port}/api/health`).then(
    (r) => r.status,
    () => 0,
  );
  for (const c of conns) c.ws.terminate();
  await stop(server);

  lagMs.sort((a, b) => a - b);
  const rss = samples.map((s) => s.rssMiB).filter((v) => v > 0);
  const summary = {
    date: new Date().toISOString(),
    connections: conns.length,
    teams: head.size,
    teamSize,
    minutes,
    ratePerSecond: rate,
    openSeconds: Math.round(openSeconds * 10) / 10,
    sent,
    acked,
    errorFrames: conns.reduce((n, c) => n + c.errors, 0),
    delivered,
    expectedSeqsChecked: expected,
    missing,
    duplicates: conns.reduce((n, c) => n + c.duplicates, 0),
    outOfOrder: conns.reduce((n, c) => n + c.outOfOrder, 0),
    closedEarly,
    serverErrorsLogged: server.errors.length,
    healthAfter: health,
    deliveryLagMs: {
      p50: percentile(lagMs, 50),
      p99: percentile(lagMs, 99),
      max: lagMs.at(-1) ?? 0,
    },
    serverRssMiB: {
      first: rss[0] ?? 0,
      afterOpen: samples[1]?.rssMiB ?? 0,
      max: Math.max(...rss),
      last: rss.at(-1) ?? 0,
    },
    samples,
  };
  const text = JSON.stringify(summary, null, 2);
  if (out) writeFileSync(out, `${text}\n`);
  process.stdout.write(`${text}\n`);
  const ok =
    missing === 0 &&
    summary.duplicates === 0 &&
    summary.outOfOrder === 0 &&
    closedEarly === 0 &&
    acked === sent &&
    health === 200;
  return ok;
}

runScript('soak', main);
