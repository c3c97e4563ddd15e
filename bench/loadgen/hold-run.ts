import { request } from 'node:http';
import type { HoldPlan, HoldResult } from './contract';
import { LatencyRecorder } from './latency-recorder';
import { encodeData, readSendTime } from './message-data';
import { FrameKind, type Protocol } from './protocol';
import { cpuSeconds, rssBytes } from '../proc-stats';
import { startRamp } from './ramp';
import { teamSizes } from './team-sizes';
import { WsClient, type ClientHandler } from './ws-client';

/**
 * C100k: open many connections on one Switchboard process (from several loopback
 * source addresses, each with its own ephemeral ports), then hold them: idle for the
 * heartbeat cost, one admin broadcast to everyone, and a fixed team-message load for
 * the latency tail.
 */

interface Conn {
  client: WsClient;
  team: number;
  ready: boolean;
  closed: boolean;
  bindRetries: number;
  /** Message frames since the last reset. */
  received: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const MAX_EXAMPLES = 5;
const BROADCAST_TIMEOUT_MS = 60_000;
/**
 * Source ports are chosen here, not by the kernel: a bind to an address with port 0
 * searches the whole range for a free port, which grows with every connection
 * (minutes of system time at 100,000). Below the ephemeral range, on addresses from
 * 127.0.0.2 that nothing else binds, a port is nearly always free; one that is not is
 * skipped.
 */
const FIRST_PORT = 10_000;
const LAST_PORT = 59_999;
export const PORTS_PER_ADDRESS = LAST_PORT - FIRST_PORT + 1;
const MAX_BIND_RETRIES = 20;
const DRAIN_STALL_MS = 3000;
/**
 * Idle CPU of the server before the first connection, taken off the heartbeat
 * figure: the quietest of a few short windows (each at most the idle window), as the
 * held figure is, since a fresh process still compiles and collects in its first
 * seconds (one 10 s window read 0.54-1.32 s/min from run to run).
 */
const EMPTY_WINDOWS = 3;
const EMPTY_WINDOW_MS = 5_000;

export class HoldRun implements ClientHandler {
  private readonly conns: Conn[] = [];
  private readonly teamMembers: number[];
  private readonly teamSent: number[];
  private readonly latency = new LatencyRecorder(2_000_000);
  private readonly pad: string;
  private ready = 0;
  private nextPort = 0;
  private dropped = 0;
  private holding = false;
  private finished = false;
  private sampling = false;
  private receivedTotal = 0;
  private onReady: (() => void) | undefined;
  private onAll: (() => void) | undefined;
  private readonly examples: string[] = [];

  constructor(
    private readonly plan: HoldPlan,
    private readonly protocol: Protocol,
  ) {
    this.pad = 'x'.repeat(plan.payloadBytes);
    this.teamMembers = teamSizes(plan.connections, plan.teamSize);
    this.teamSent = this.teamMembers.map(() => 0);
    for (let i = 0; i < plan.connections; i++) {
      this.conns.push({
        client: new WsClient(i, this),
        team: Math.floor(i / plan.teamSize),
        ready: false,
        closed: false,
        bindRetries: 0,
        received: 0,
      });
    }
  }

  async run(): Promise<HoldResult> {
    const { plan } = this;
    const idleRss = rssBytes(plan.serverPid);
    // What the process spends with no connection (timers, stats sampling): not heartbeats.
    const empty = await this.quietestWindow(
      Array.from({ length: EMPTY_WINDOWS }, () =>
        Math.min(EMPTY_WINDOW_MS, plan.idleWindowsMs[0] ?? 0),
      ),
    );
    const emptyCpuSPerMin = empty.quietest.cpuSPerMin;
    const connectMs = await this.connect();
    this.holding = true;
    await this.waitForIdleServer();
    const heldRss = rssBytes(plan.serverPid);

    const idle = await this.quietestWindow(plan.idleWindowsMs);

    const broadcast = await this.broadcast();
    const latency = await this.fixedLoad();

    this.finished = true;
    for (const c of this.conns) c.client.close();
    return {
      requested: plan.connections,
      held: this.conns.filter((c) => c.ready && !c.closed).length,
      connectMs,
      connectPerS: (plan.connections / connectMs) * 1000,
      idleRssBytes: idleRss,
      heldRssBytes: heldRss,
      rssPerConnectionBytes: (heldRss - idleRss) / plan.connections,
      idleWindowS: idle.quietest.s,
      idleCpuSPerMin: idle.quietest.cpuSPerMin,
      idleWindowsCpuSPerMin: idle.windows.map((w) => w.cpuSPerMin),
      emptyCpuSPerMin,
      broadcastMs: broadcast.ms,
      broadcastReached: broadcast.reached,
      latency,
      dropped: this.dropped,
      examples: this.examples,
    };
  }

  // ---- ClientHandler -------------------------------------------------------

  opened(): void {
    // Readiness comes by frame.
  }

  frame(client: WsClient, buf: Buffer, start: number, end: number, now: number): void {
    const conn = this.conns[client.index];
    if (conn.client !== client) return;
    const kind = this.protocol.classify(client, buf, start, end);
    if (kind === FrameKind.ready && !conn.ready) {
      conn.ready = true;
      this.ready++;
      this.onReady?.();
    } else if (kind === FrameKind.message) {
      conn.received++;
      this.receivedTotal++;
      if (this.sampling) {
        const sentAt = readSendTime(buf, start, end);
        if (sentAt >= 0) this.latency.add(now - sentAt);
      }
      if (conn.received === 1) this.onAll?.();
    } else if (kind === FrameKind.error) {
      this.example(`error frame: ${buf.toString('utf8', start, Math.min(end, start + 200))}`);
    }
  }

  closed(client: WsClient, reason: string): void {
    if (this.finished) return;
    const conn = this.conns[client.index];
    if (conn.client !== client) return;
    if (!this.holding && !conn.ready && /EADDRINUSE|EADDRNOTAVAIL/.test(reason)) {
      if (++conn.bindRetries <= MAX_BIND_RETRIES) {
        conn.client = new WsClient(client.index, this);
        this.open(conn);
        return;
      }
    }
    conn.closed = true;
    if (this.holding) this.dropped++;
    this.example(`closed: ${reason}`);
    if (!this.holding) this.onReady?.();
  }

  // ---- phases ----------------------------------------------------------------

  private async connect(): Promise<number> {
    const { plan } = this;
    const ramp = startRamp({
      count: plan.connections,
      concurrency: plan.connectConcurrency,
      timeoutMs: Math.max(180_000, plan.connections * 20),
      open: (i) => this.open(this.conns[i]),
      timedOut: () => new Error(`hold: only ${this.ready}/${plan.connections} ready`),
    });
    this.onReady = () => ramp.settled();
    const ms = await ramp.done.finally(() => {
      this.onReady = undefined;
    });
    const failed = this.conns.filter((c) => c.closed).length;
    if (failed > 0) throw new Error(`hold: ${failed} of ${plan.connections} connections failed`);
    return ms;
  }

  private open(conn: Conn): void {
    const i = conn.client.index;
    const slot = this.nextPort++;
    const address = `127.0.0.${2 + (Math.floor(slot / PORTS_PER_ADDRESS) % this.plan.sourceAddresses)}`;
    const member = { id: `u${i}`, name: `user ${i}`, teamId: `t${conn.team}` };
    conn.client.open(this.plan.port, this.protocol.path(member), {
      address,
      port: FIRST_PORT + (slot % PORTS_PER_ADDRESS),
    });
  }

  /** Server CPU over each window in turn, and the quietest (see pingCycleWindows). */
  private async quietestWindow(windowsMs: number[]): Promise<{
    windows: { s: number; cpuSPerMin: number }[];
    quietest: { s: number; cpuSPerMin: number };
  }> {
    const windows: { s: number; cpuSPerMin: number }[] = [];
    for (const ms of windowsMs) {
      const cpu0 = this.cpu();
      const t0 = performance.now();
      await sleep(ms);
      const s = (performance.now() - t0) / 1000;
      windows.push({ s, cpuSPerMin: ((this.cpu() - cpu0) / s) * 60 });
    }
    const quietest = windows.reduce((a, b) => (b.cpuSPerMin < a.cpuSPerMin ? b : a));
    return { windows, quietest };
  }

  /** The joins' presence fan-out outlasts the handshakes; RSS is read once it is done. */
  private async waitForIdleServer(): Promise<void> {
    let cpu = this.cpu();
    for (let waited = 0; waited < 60_000; waited += 250) {
      await sleep(250);
      const now = this.cpu();
      if ((now - cpu) / 0.25 < 0.2) return;
      cpu = now;
    }
  }

  /** One POST /api/broadcast; resolves when every held connection has a message. */
  private async broadcast(): Promise<{ ms: number; reached: number }> {
    for (const c of this.conns) c.received = 0;
    const live = this.conns.filter((c) => c.ready && !c.closed);
    let reached = 0;
    const started = performance.now();
    const all = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, BROADCAST_TIMEOUT_MS);
      this.onAll = () => {
        if (++reached < live.length) return;
        clearTimeout(timer);
        resolve();
      };
    });
    await this.post('/api/broadcast', JSON.stringify({ data: { t: started, broadcast: true } }));
    await all;
    this.onAll = undefined;
    return { ms: performance.now() - started, reached };
  }

  /** Open loop, member 0 of each team in turn publishes; then every delivery is counted. */
  private async fixedLoad(): Promise<HoldResult['latency']> {
    const { plan } = this;
    for (const c of this.conns) c.received = 0;
    this.teamSent.fill(0);
    this.latency.reset();
    this.sampling = true;
    const publishers = this.conns.filter(
      (c, i) => i % plan.teamSize === 0 && this.teamMembers[c.team] > 1,
    );
    const perS = plan.deliveriesPerS / (plan.teamSize - 1);
    const total = Math.max(1, Math.round((perS * plan.latencyMs) / 1000));
    const interval = 1000 / perS;
    const start = performance.now();
    let expected = 0;
    for (let k = 0; k < total;) {
      const now = performance.now();
      for (; k < total && start + k * interval <= now; k++) {
        const conn = publishers[k % publishers.length];
        this.teamSent[conn.team]++;
        expected += this.teamMembers[conn.team] - 1;
        this.protocol.publish(conn.client, encodeData(start + k * interval, 0, k, this.pad), k);
      }
      await sleep(1);
    }
    let seen = this.receivedTotal;
    let movedAt = performance.now();
    // receivedTotal counts since the broadcast too; compare what arrived in this phase.
    let phaseReceived = 0;
    for (const c of this.conns) phaseReceived += c.received;
    while (phaseReceived < expected && performance.now() - movedAt < DRAIN_STALL_MS) {
      await sleep(20);
      if (this.receivedTotal !== seen) {
        seen = this.receivedTotal;
        movedAt = performance.now();
      }
      phaseReceived = 0;
      for (const c of this.conns) phaseReceived += c.received;
    }
    this.sampling = false;
    let lost = 0;
    for (let i = 0; i < this.conns.length; i++) {
      const c = this.conns[i];
      const due = this.teamSent[c.team] - (i % plan.teamSize === 0 ? this.teamSent[c.team] : 0);
      if (c.received < due) lost += due - c.received;
    }
    return { ...this.latency.summary(), lost };
  }

  private post(path: string, body: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.plan.port,
          path,
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.plan.adminToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          if (res.statusCode === 202) resolve();
          else reject(new Error(`POST ${path}: ${res.statusCode}`));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  private cpu(): number {
    return cpuSeconds(this.plan.serverPid, this.plan.clockTicksPerS);
  }

  private example(text: string): void {
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(text);
  }
}
