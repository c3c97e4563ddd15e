/**
 * Fault run on the Redis engine (npm run faults; not part of CI). Starts its own
 * redis-server (no persistence) and several nodes (`node dist/app/main.js`) on
 * 127.0.0.1, keeps clients sending with `ref` while it kills a node with SIGKILL,
 * kills and restarts Redis, and kills another node. Clients reconnect to a live
 * node with since/epoch, resend unacknowledged refs, and reload history when a
 * resume says complete:false, as the protocol asks. At the end every acknowledged
 * message is checked against every teammate:
 *
 * - acknowledged after the Redis restart (the final epoch) but missing from the
 *   team's history, or not delivered to a teammate: a loss (must be 0);
 * - acknowledged before Redis was killed: Redis had no persistence, so the new
 *   epoch does not hold them; reported apart, as the documented cost of a Redis
 *   restart without persistence (docs/RELIABILITY.md, "The Redis engine under faults").
 *
 * With MSSQL_URL set the nodes archive to SQL Server too and the run also counts
 * acknowledged messages missing from dbo.messages; MSSQL_STOP_CMD / MSSQL_START_CMD
 * (shell commands, e.g. `docker stop sql`) add a SQL outage.
 *
 *   npm run faults -- [--nodes 3] [--clients 40] [--teams 4] [--rate 2] [--phase-seconds 8] [--out file.json]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { intFlag, sleep, stringFlag, waitFor } from './lib/flags';
import { freePort } from '../support/free-port';
import { exitOnSignals, kill9, stop, watchdog, type Managed } from '../support/managed';
import { startNode, type StartedNode as NodeProcess } from '../support/node-process';
import { startRedis } from '../support/redis-process';
import { runScript } from './lib/run-script';
import { resumeUrl } from './lib/socket-url';

const nodeCount = intFlag('nodes', 3, 2, 5);
const clientCount = intFlag('clients', 40, 4, 500);
const teamCount = intFlag('teams', 4, 1, 50);
const ratePerClient = intFlag('rate', 2, 0.2, 10);
const phaseMs = intFlag('phase-seconds', 8, 2, 120) * 1000;
const out = stringFlag('out');
const mssqlUrl = process.env['MSSQL_URL'] || undefined;

const ADMIN_TOKEN = randomBytes(16).toString('hex');
const RUN = randomBytes(3).toString('hex');

interface Ack {
  id: string;
  seq: number;
  at: number;
}

/** What the script knows about the cluster right now. */
const cluster = {
  nodes: [] as (NodeProcess | undefined)[],
  redisRestarts: 0,
  redisKilledAt: Number.POSITIVE_INFINITY,
  redisBackAt: Number.POSITIVE_INFINITY,
  live(): NodeProcess[] {
    return this.nodes.filter((n): n is NodeProcess => n !== undefined);
  },
};

const faults: { at: number; what: string }[] = [];
const t0 = Date.now();
const log = (line: string) =>
  process.stderr.write(`faults: t=${((Date.now() - t0) / 1000).toFixed(1)}s ${line}\n`);

class Client {
  ws: WebSocket | undefined;
  connected = false;
  stopped = false;
  epoch: string | undefined;
  /** Highest message seq of the current stream: the `since` of the next resume. */
  lastSeq = 0;
  /** Message ids delivered live or replayed on resume. */
  readonly received = new Set<string>();
  /** Message ids fetched with `history` after a resume that was not complete. */
  readonly recovered = new Set<string>();
  readonly pending = new Map<string, unknown>();
  readonly acks = new Map<string, Ack>();
  duplicates = 0;
  outOfOrder = 0;
  resets = 0;
  conflictingAcks = 0;
  reconnects = 0;
  incompleteResumes = 0;
  retries = 0;
  unexpectedErrors: string[] = [];
  private sent = 0;
  private reloading = false;
  /** Head seq of the resume that was not complete: history up to it stands in for the replay. */
  private reloadHead = 0;

  constructor(
    readonly id: string,
    readonly teamId: string,
  ) {}

  connect(): void {
    if (this.stopped) return;
    const live = cluster.live();
    if (live.length === 0) {
      setTimeout(() => this.connect(), 300);
      return;
    }
    const node = live[Math.floor(Math.random() * live.length)]!;
    const ws = new WebSocket(resumeUrl(node.port, this));
    this.ws = ws;
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.connected = false;
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.connect(), 200 + Math.random() * 300);
    });
    ws.on('message', (raw) => this.onFrame(JSON.parse(raw.toString()) as Record<string, unknown>));
  }

  private onFrame(frame: Record<string, unknown>): void {
    switch (frame['type']) {
      case 'welcome':
        this.connected = true;
        this.epoch = frame['epoch'] as string;
        if (this.lastSeq === 0) this.lastSeq = frame['seq'] as number;
        // Unacknowledged sends go again with the same ref: at most one copy is published.
        for (const [ref, data] of this.pending) this.write({ type: 'team', data, ref });
        return;
      case 'message': {
        const seq = frame['seq'] as number;
        const id = frame['id'] as string;
        if (this.received.has(id)) this.duplicates++;
        this.received.add(id);
        if (seq <= this.lastSeq) {
          // Seqs restart at 1 once per Redis restart (a new epoch); anything else is disorder.
          if (seq < this.lastSeq && this.resets < cluster.redisRestarts) this.resets++;
          else this.outOfOrder++;
        }
        this.lastSeq = seq;
        return;
      }
      case 'resumed':
        if (frame['complete'] === false) {
          this.incompleteResumes++;
          this.lastSeq = frame['seq'] as number;
          this.reloadHead = this.lastSeq;
          this.reload(undefined);
        }
        return;
      case 'history': {
        const messages = frame['messages'] as { id: string; seq: number }[];
        // Later messages must arrive live: only what the replay would have held counts.
        for (const m of messages) if (m.seq <= this.reloadHead) this.recovered.add(m.id);
        if (frame['more'] === true && messages.length > 0) this.reload(messages[0]!.seq);
        else this.reloading = false;
        return;
      }
      case 'ack': {
        const ref = frame['ref'] as string;
        const ack = { id: frame['id'] as string, seq: frame['seq'] as number, at: Date.now() };
        const first = this.acks.get(ref);
        if (first && first.id !== ack.id) this.conflictingAcks++;
        if (!first) this.acks.set(ref, ack);
        this.pending.delete(ref);
        return;
      }
      case 'error': {
        const code = frame['code'] as string;
        const ref = frame['ref'] as string | undefined;
        // indeterminate: maybe stored; the same ref again tells which, as for unavailable.
        if (code === 'unavailable' || code === 'indeterminate' || code === 'rate_limited') {
          this.retries++;
          if (ref !== undefined) setTimeout(() => this.resend(ref), 300 + Math.random() * 300);
          else if (this.reloading) setTimeout(() => this.reload(undefined), 1000);
        } else {
          this.unexpectedErrors.push(JSON.stringify(frame));
        }
        return;
      }
      default:
        return;
    }
  }

  private reload(before: number | undefined): void {
    this.reloading = true;
    this.write({ type: 'history', limit: 200, ...(before === undefined ? {} : { before }) });
  }

  private write(frame: unknown): void {
    if (this.connected && this.ws?.readyState === WebSocket.OPEN)
      this.ws.send(JSON.stringify(frame));
  }

  private resend(ref: string): void {
    const data = this.pending.get(ref);
    if (data !== undefined) this.write({ type: 'team', data, ref });
  }

  /** One new message, if connected (a disconnected client waits rather than queueing). */
  tick(): void {
    if (!this.connected) return;
    const ref = `${this.id}-${this.sent++}`;
    const data = { from: this.id, n: this.sent, at: Date.now() };
    this.pending.set(ref, data);
    this.write({ type: 'team', data, ref });
  }

  close(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

async function teamHistory(teamId: string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  let before: number | undefined;
  for (let page = 0; page < 10_000; page++) {
    const node = cluster.live()[0];
    if (!node) throw new Error('no live node to read history from');
    const q = `limit=200${before === undefined ? '' : `&before=${before}`}`;
    const res = await fetch(`http://127.0.0.1:${node.port}/api/teams/${teamId}/messages?${q}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    if (res.status !== 200) throw new Error(`history of ${teamId}: ${res.status}`);
    const body = (await res.json()) as { messages: { id: string; seq: number }[]; more: boolean };
    for (const m of body.messages) ids.set(m.id, m.seq);
    if (!body.more || body.messages.length === 0) break;
    before = body.messages[0]!.seq;
  }
  return ids;
}

async function archivedIds(teamIds: string[]): Promise<Set<string> | undefined> {
  if (!mssqlUrl) return undefined;
  const sql = await import('mssql');
  const pool = await new sql.ConnectionPool(mssqlUrl).connect();
  try {
    const ids = new Set<string>();
    for (const teamId of teamIds) {
      const result = await pool
        .request()
        .input('team', sql.NVarChar(64), teamId)
        .query<{ id: string }>('SELECT id FROM dbo.messages WHERE team_id = @team');
      for (const row of result.recordset) ids.add(row.id);
    }
    return ids;
  } finally {
    await pool.close();
  }
}

function shell(command: string | undefined, what: string): void {
  if (!command) return;
  const result = spawnSync('bash', ['-c', command], { stdio: 'inherit', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${what} (${command}) failed with ${result.status}`);
}

async function main(): Promise<boolean> {
  exitOnSignals();
  watchdog(phaseMs * 6 + 5 * 60_000, 'faults');
  const redisPort = await freePort();
  let redis: Managed = await startRedis(redisPort);
  const env = (i: number, generation: number): Record<string, string> => ({
    ADMIN_TOKEN,
    NODE_ID: `fault-${i}-${generation}`,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    REDIS_KEY_PREFIX: `f${RUN}:`,
    PRESENCE_LEASE_MS: '1500',
    HISTORY_SIZE: '100000',
    ...(mssqlUrl ? { MSSQL_URL: mssqlUrl } : {}),
  });
  const start = (i: number, generation: number) => startNode(env(i, generation));
  for (let i = 0; i < nodeCount; i++) cluster.nodes[i] = await start(i, 0);
  const allNodes: NodeProcess[] = [...cluster.live()];
  log(
    `redis on ${redisPort}, nodes on ${cluster
      .live()
      .map((n) => n.port)
      .join(', ')}`,
  );

  const teamIds = Array.from({ length: teamCount }, (_, i) => `f${RUN}-team-${i}`);
  const clients = Array.from(
    { length: clientCount },
    (_, i) => new Client(`c${i}`, teamIds[i % teamCount]!),
  );
  for (const c of clients) c.connect();
  if (!(await waitFor(() => clients.every((c) => c.connected), 30_000)))
    throw new Error('clients did not all connect');
  log(
    `${clients.length} clients connected in ${teamCount} teams; traffic at ${ratePerClient}/s each`,
  );

  const timers = clients.map((c) =>
    setInterval(() => c.tick(), 1000 / ratePerClient + Math.random() * 50),
  );
  const fault = (what: string) => {
    faults.push({ at: Math.round((Date.now() - t0) / 100) / 10, what });
    log(what);
  };

  await sleep(5000);
  fault('kill -9 node 0');
  await kill9(cluster.nodes[0]!);
  cluster.nodes[0] = undefined;
  await sleep(phaseMs);
  cluster.nodes[0] = await start(0, 1);
  allNodes.push(cluster.nodes[0]);
  fault('node 0 restarted');
  await sleep(phaseMs / 2);

  fault('kill -9 redis');
  cluster.redisKilledAt = Date.now();
  await kill9(redis);
  await sleep(3000);
  redis = await startRedis(redisPort);
  cluster.redisRestarts++;
  cluster.redisBackAt = Date.now();
  fault('redis restarted (empty: no persistence)');
  await sleep(phaseMs);

  fault('kill -9 node 1');
  await kill9(cluster.nodes[1]!);
  cluster.nodes[1] = undefined;
  await sleep(phaseMs);

  if (mssqlUrl && process.env['MSSQL_STOP_CMD'] && process.env['MSSQL_START_CMD']) {
    fault('sql server stopped');
    shell(process.env['MSSQL_STOP_CMD'], 'MSSQL_STOP_CMD');
    await sleep(phaseMs);
    shell(process.env['MSSQL_START_CMD'], 'MSSQL_START_CMD');
    fault('sql server started');
    await sleep(phaseMs);
  }

  for (const t of timers) clearInterval(t);
  log('traffic stopped; waiting for every send to be acknowledged');
  const allAcked = await waitFor(() => clients.every((c) => c.pending.size === 0), 60_000, 200);

  // The final epoch's messages, as the cluster holds them.
  const history = new Map<string, Map<string, number>>();
  for (const t of teamIds) history.set(t, await teamHistory(t));
  const inFinal = (teamId: string, id: string) => history.get(teamId)!.has(id);
  const expectedFor = (c: Client) =>
    clients
      .filter((s) => s.teamId === c.teamId && s !== c)
      .flatMap((s) => [...s.acks.values()].map((a) => a.id))
      .filter((id) => inFinal(c.teamId, id));
  // Deliveries to connected clients settle through pub/sub: wait, bounded.
  await waitFor(
    () =>
      clients.every((c) => expectedFor(c).every((id) => c.received.has(id) || c.recovered.has(id))),
    30_000,
    250,
  );

  let acked = 0;
  let ackedFinal = 0;
  let ackedBeforeRedisLoss = 0;
  const lost: { client: string; ack: Ack }[] = [];
  const undelivered = new Set<string>();
  let undeliveredPairs = 0;
  let oldEpochUndeliveredPairs = 0;
  let finalPairs = 0;
  let oldPairs = 0;
  for (const c of clients) {
    for (const ack of c.acks.values()) {
      acked++;
      if (inFinal(c.teamId, ack.id)) ackedFinal++;
      else if (ack.at < cluster.redisBackAt) ackedBeforeRedisLoss++;
      else lost.push({ client: c.id, ack });
    }
  }
  for (const c of clients) {
    for (const s of clients) {
      if (s === c || s.teamId !== c.teamId) continue;
      for (const ack of s.acks.values()) {
        const got = c.received.has(ack.id) || c.recovered.has(ack.id);
        if (inFinal(c.teamId, ack.id)) finalPairs++;
        else oldPairs++;
        if (got) continue;
        if (inFinal(c.teamId, ack.id)) {
          undeliveredPairs++;
          undelivered.add(ack.id);
        } else {
          oldEpochUndeliveredPairs++;
        }
      }
    }
  }
  const archived = await archivedIds(teamIds).catch((err: unknown) => {
    log(`archive check failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
  const notArchived =
    archived === undefined
      ? null
      : clients.reduce(
          (n, c) => n + [...c.acks.values()].filter((a) => !archived.has(a.id)).length,
          0,
        );

  for (const c of clients) c.close();
  const serverErrors = allNodes.reduce((n, node) => n + node.errors.length, 0);
  for (const node of cluster.live()) await stop(node);
  await kill9(redis);

  const sum = (f: (c: Client) => number) => clients.reduce((n, c) => n + f(c), 0);
  const summary = {
    date: new Date().toISOString(),
    nodes: nodeCount,
    clients: clientCount,
    teams: teamCount,
    ratePerClient,
    seconds: Math.round((Date.now() - t0) / 1000),
    faults,
    acked,
    allAcked,
    ackedInFinalEpoch: ackedFinal,
    ackedBeforeRedisLoss,
    lossesAckedButNotStored: lost.length,
    undeliveredAfterResume: {
      messages: undelivered.size,
      pairs: undeliveredPairs,
      pairsChecked: finalPairs,
    },
    oldEpochNotDeliveredBeforeRedisLoss: {
      pairs: oldEpochUndeliveredPairs,
      pairsChecked: oldPairs,
    },
    notArchived,
    duplicates: sum((c) => c.duplicates),
    outOfOrder: sum((c) => c.outOfOrder),
    epochResetsSeenLive: sum((c) => c.resets),
    conflictingAcks: sum((c) => c.conflictingAcks),
    reconnects: sum((c) => c.reconnects),
    incompleteResumes: sum((c) => c.incompleteResumes),
    recoveredFromHistory: sum((c) => c.recovered.size),
    retriedAfterUnavailable: sum((c) => c.retries),
    unexpectedErrors: clients.flatMap((c) => c.unexpectedErrors).slice(0, 10),
    serverErrorLines: serverErrors,
    lostSample: lost.slice(0, 10),
  };
  const text = JSON.stringify(summary, null, 2);
  if (out) writeFileSync(out, `${text}\n`);
  process.stdout.write(`${text}\n`);
  const ok =
    allAcked &&
    lost.length === 0 &&
    undeliveredPairs === 0 &&
    summary.duplicates === 0 &&
    summary.outOfOrder === 0 &&
    summary.conflictingAcks === 0 &&
    (notArchived === null || notArchived === 0);
  return ok;
}

runScript('faults', main);
