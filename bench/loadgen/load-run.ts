import type { LoadPlan, LoadResult, PhaseCounts } from './contract';
import { LatencyRecorder } from './latency-recorder';
import { collectGarbage } from './collect-garbage';
import { collectLoopStats } from './loop-stats';
import { LoopWindow } from './loop-window';
import { encodeData, isBenchData, readSendTime } from './message-data';
import { FrameKind, type Protocol } from './protocol';
import { cpuSeconds, rssBytes, totalCpuSeconds, totalWriteCalls } from '../proc-stats';
import { warmConnectPath } from './connect-warmup';
import { startRamp } from './ramp';
import { teamLayout } from './team-layout';
import { WsClient, type ClientHandler } from './ws-client';

interface Conn {
  client: WsClient;
  /** Its home team first, then the teams it subscribes to. */
  teams: number[];
  /** Teams it publishes into, taken in turn when an ack frees a window slot. */
  publishesTo: number[];
  nextPublish: number;
  /** `subscribed` frames still awaited before it counts as ready. */
  subscribing: number;
  ready: boolean;
  /** Message frames received in the current phase. */
  received: number;
  /** Messages this connection published in the current phase. */
  sent: number;
}

/** Latency samples kept per phase; more than a 10 s phase at 100,000 deliveries/s. */
const LATENCY_CAPACITY = 2_000_000;
const MAX_EXAMPLES = 5;
/** A drain gives up once nothing has arrived for this long. */
const DRAIN_STALL_MS = 3000;
/** Servers count as idle below this share of one core... */
const IDLE_CPU_SHARE = 0.2;
/** ...measured over this window... */
const IDLE_WINDOW_MS = 250;
/** ...waiting at most this long for it. */
const IDLE_MAX_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One run of one scenario against one arm: connect everyone, then a fixed open-loop
 * load (latency), then a closed-loop saturation phase, counting every delivery.
 */
export class LoadRun implements ClientHandler {
  private readonly conns: Conn[] = [];
  private readonly teamMembers: number[];
  private readonly teamSent: number[];
  /** Interleaved across teams, so consecutive fixed-load messages go to different teams. */
  private readonly publishers: { conn: Conn; team: number }[] = [];
  /** Frames name their team only when a connection follows several (the default run's stay as they were). */
  private readonly multiTeam: boolean;
  private readonly latency = new LatencyRecorder(LATENCY_CAPACITY);
  private readonly pad: string;

  private sampleEvery = 1;
  private sampleCount = 0;
  private decodeCount = 0;
  private saturating = false;
  /** Publishers owed a window slot, waiting for deliveries in flight to fall under the cap. */
  private readonly parked: Conn[] = [];
  /** Deliveries due for the messages published in this phase. */
  private expected = 0;
  private finished = false;
  private messageNumber = 0;
  private totalSent = 0;
  private totalAcked = 0;
  private totalReceived = 0;
  private errorFrames = 0;
  private closes = 0;
  private decodeFailures = 0;
  private readonly examples: string[] = [];
  private onReady: (() => void) | undefined;
  private onLost: ((reason: string) => void) | undefined;

  constructor(
    private readonly plan: LoadPlan,
    private readonly protocol: Protocol,
  ) {
    this.pad = 'x'.repeat(plan.payloadBytes);
    const follows = plan.teamsPerConnection ?? 1;
    this.multiTeam = follows > 1;
    const layout = teamLayout(plan.connections, plan.teamSize, follows);
    this.teamMembers = layout.sizes;
    this.teamSent = this.teamMembers.map(() => 0);
    for (let i = 0; i < plan.connections; i++) {
      this.conns.push({
        client: new WsClient(i, this),
        teams: layout.teamsOf[i],
        publishesTo: [],
        nextPublish: 0,
        subscribing: 0,
        ready: false,
        received: 0,
        sent: 0,
      });
    }
    // A team of one has nobody to deliver to: it never publishes.
    for (let m = 0; m < plan.publishersPerTeam; m++) {
      layout.members.forEach((members, team) => {
        const index = members[m];
        if (index === undefined || m >= this.teamMembers[team] - 1) return;
        const conn = this.conns[index];
        conn.publishesTo.push(team);
        this.publishers.push({ conn, team });
      });
    }
  }

  async run(): Promise<LoadResult> {
    const { plan } = this;
    if (this.publishers.length === 0) throw new Error('no publishers: teams need 2 members');
    if (plan.connectWarmup > 0) {
      const ports = [...new Set([plan.publisherPort, plan.receiverPort])];
      // Per server process: split over two nodes, 1,000 left each half-compiled,
      // and the two-node arms paid for it in their connect figures.
      await warmConnectPath(
        {
          connections: plan.connectWarmup * ports.length,
          teamSize: plan.teamSize,
          concurrency: plan.connectConcurrency,
          ports,
        },
        this.protocol,
      );
      await this.waitForIdleServers();
    }
    const idle = plan.serverPids.map((pid) => rssBytes(pid));

    const cpuBeforeConnect = this.serverCpu();
    const perProcessBeforeConnect = this.serverCpuPerProcess();
    const writesBeforeConnect = this.serverWriteCalls();
    const connectMs = await this.connect();
    const connectCpu = this.serverCpu() - cpuBeforeConnect;
    const connectWrites = this.serverWriteCalls() - writesBeforeConnect;

    await sleep(plan.settleMs);
    const busyAfterMs = await this.waitForIdleServers();
    const perProcessConnectCpu = this.serverCpuPerProcess().map(
      (s, i) => s - perProcessBeforeConnect[i]!,
    );
    const connected = plan.serverPids.map((pid) => rssBytes(pid));
    const idleBytes = idle.reduce((a, b) => a + b, 0);
    const connectedBytes = connected.reduce((a, b) => a + b, 0);

    if (plan.warmupMs > 0) {
      this.beginPhase(1);
      await this.fixedLoad(plan.warmupMs);
      await this.drain();
    }
    collectGarbage();
    const latency = await this.latencyPhase();
    const saturation = await this.saturationPhase();

    this.finished = true;
    for (const conn of this.conns) conn.client.close();
    return {
      connect: {
        connections: plan.connections,
        ms: connectMs,
        perS: (plan.connections / connectMs) * 1000,
        serverCpuS: connectCpu,
        perProcessCpuS: perProcessConnectCpu,
        busyAfterMs,
        serverWriteCalls: connectWrites,
      },
      rss: {
        idleBytes,
        connectedBytes,
        perConnectionBytes: (connectedBytes - idleBytes) / plan.connections,
        perProcess: plan.serverPids.map((pid, i) => ({
          pid,
          idleBytes: idle[i],
          connectedBytes: connected[i],
        })),
      },
      latency,
      saturation,
      anomalies: {
        errorFrames: this.errorFrames,
        closes: this.closes,
        decodeFailures: this.decodeFailures,
        examples: this.examples,
      },
    };
  }

  // ---- ClientHandler -------------------------------------------------------

  opened(): void {
    // Nothing to do: each protocol says when a connection is ready by a frame.
  }

  frame(client: WsClient, buf: Buffer, start: number, end: number, now: number): void {
    const conn = this.conns[client.index];
    switch (this.protocol.classify(client, buf, start, end)) {
      case FrameKind.message:
        conn.received++;
        this.totalReceived++;
        if (++this.sampleCount >= this.sampleEvery) {
          this.sampleCount = 0;
          const sentAt = readSendTime(buf, start, end);
          if (sentAt < 0) this.decodeFailures++;
          else this.latency.add(now - sentAt);
        }
        if (++this.decodeCount >= this.plan.decodeCheckEvery) {
          this.decodeCount = 0;
          this.checkDecode(buf.toString('utf8', start, end));
        }
        if (this.parked.length > 0 && this.inFlight() < this.plan.inFlightDeliveries) {
          this.publishNext(this.parked.pop()!, now);
        }
        return;
      case FrameKind.ack:
        this.totalAcked++;
        if (!this.saturating) return;
        if (this.inFlight() < this.plan.inFlightDeliveries) this.publishNext(conn, now);
        else this.parked.push(conn);
        return;
      case FrameKind.ready:
        if (conn.ready || conn.subscribing > 0) return;
        if (conn.teams.length > 1 && this.protocol.subscribe) {
          conn.subscribing = conn.teams.length - 1;
          for (const team of conn.teams.slice(1)) this.protocol.subscribe(client, `t${team}`);
          return;
        }
        this.markReady(conn);
        return;
      case FrameKind.subscribed:
        if (conn.subscribing > 0 && --conn.subscribing === 0) this.markReady(conn);
        return;
      case FrameKind.error:
        this.errorFrames++;
        this.example(`error frame: ${buf.toString('utf8', start, Math.min(end, start + 200))}`);
        return;
      default:
        return;
    }
  }

  private markReady(conn: Conn): void {
    if (conn.ready) return;
    conn.ready = true;
    this.onReady?.();
  }

  closed(_client: WsClient, reason: string): void {
    if (this.finished) return;
    this.closes++;
    this.example(`closed: ${reason}`);
    this.onLost?.(reason);
  }

  // ---- phases ----------------------------------------------------------------

  private connect(): Promise<number> {
    const { plan } = this;
    // Generous: Switchboard sends a presence frame to every teammate per join, so
    // filling one big team costs time quadratic in its size.
    const timeoutMs = Math.max(180_000, plan.connections * 50);
    let ready = 0;
    const ramp = startRamp({
      count: plan.connections,
      concurrency: plan.connectConcurrency,
      timeoutMs,
      open: (i) => {
        const conn = this.conns[i];
        const member = {
          id: `u${conn.client.index}`,
          name: `user ${conn.client.index}`,
          teamId: `t${conn.teams[0]}`,
        };
        conn.client.open(
          conn.publishesTo.length > 0 ? plan.publisherPort : plan.receiverPort,
          this.protocol.path(member),
        );
      },
      timedOut: () =>
        new Error(`connect: only ${ready}/${plan.connections} ready after ${timeoutMs} ms`),
    });
    this.onReady = () => {
      ready++;
      ramp.settled();
    };
    this.onLost = (reason) =>
      ramp.fail(new Error(`a connection failed while connecting (${ready} ready): ${reason}`));
    return ramp.done.finally(() => {
      this.onReady = undefined;
      this.onLost = undefined;
    });
  }

  /**
   * Waits until the servers are idle. Work a connection causes can outlast its
   * handshake (Switchboard fans a presence frame out to every teammate per join,
   * through Redis on the two-node arm): measuring RSS or latency before that is
   * done would measure the join storm instead. Returns how long it took.
   */
  private async waitForIdleServers(): Promise<number> {
    const start = performance.now();
    let cpu = this.serverCpu();
    let at = start;
    while (at - start < IDLE_MAX_MS) {
      await sleep(IDLE_WINDOW_MS);
      const nowCpu = this.serverCpu();
      const now = performance.now();
      const share = (nowCpu - cpu) / ((now - at) / 1000);
      cpu = nowCpu;
      at = now;
      if (share < IDLE_CPU_SHARE) break;
    }
    return at - start;
  }

  private async latencyPhase(): Promise<LoadResult['latency']> {
    const { plan } = this;
    this.beginPhase(1);
    const probePids = plan.probePids ?? [];
    // Starts the servers' loop-delay window; what came before is warm-up.
    await collectLoopStats(plan.loopStatsDir, probePids);
    const cpu0 = this.serverCpu();
    const own0 = process.cpuUsage();
    const ownLoop = new LoopWindow();
    const t0 = performance.now();
    await this.fixedLoad(plan.latencyMs);
    const wallMs = performance.now() - t0;
    const loadgenLoop = ownLoop.take();
    ownLoop.stop();
    const serverCpuS = this.serverCpu() - cpu0;
    const own = process.cpuUsage(own0);
    const loop = await collectLoopStats(plan.loopStatsDir, probePids);
    const drained = await this.drain();
    return {
      ...this.counts(drained),
      ...this.latency.summary(),
      offeredPerS: plan.offeredDeliveriesPerS,
      achievedPerS: (this.totalReceived / wallMs) * 1000,
      serverCpuS,
      loadgenCpuPct: ((own.user + own.system) / 1000 / wallMs) * 100,
      loop,
      loadgenLoop,
    };
  }

  private async saturationPhase(): Promise<LoadResult['saturation']> {
    const { plan } = this;
    this.beginPhase(plan.saturationSampleEvery);
    const cpu0 = this.serverCpu();
    const perProcess0 = this.serverCpuPerProcess();
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    this.saturating = true;
    for (const { conn, team } of this.publishers) {
      for (let w = 0; w < plan.window; w++) this.publish(conn, team, performance.now());
    }
    await sleep(plan.saturationMs);
    const seconds = (performance.now() - t0) / 1000;
    const received = this.totalReceived;
    const acked = this.totalAcked;
    const serverCpuS = this.serverCpu() - cpu0;
    const perProcessCpuS = this.serverCpuPerProcess().map((s, i) => s - perProcess0[i]!);
    const own = process.cpuUsage(own0);
    this.saturating = false;
    this.parked.length = 0;
    const drained = await this.drain();
    return {
      ...this.counts(drained),
      ...this.latency.summary(),
      seconds,
      deliveriesPerS: received / seconds,
      messagesPerS: acked / seconds,
      serverCpuS,
      serverCpuPct: (serverCpuS / seconds) * 100,
      perProcessCpuS,
      deliveriesPerCpuS: serverCpuS > 0 ? received / serverCpuS : 0,
      loadgenCpuPct: ((own.user + own.system) / 1e6 / seconds) * 100,
    };
  }

  /**
   * Open loop: message k is due at start + k / rate whatever the server does, and
   * carries that due time, so a stall shows as latency instead of a slower sender
   * (no coordinated omission).
   */
  private fixedLoad(durationMs: number): Promise<void> {
    const { plan } = this;
    const perS = plan.offeredDeliveriesPerS / (plan.teamSize - 1);
    const total = Math.max(1, Math.round((perS * durationMs) / 1000));
    const interval = 1000 / perS;
    const start = performance.now();
    let k = 0;
    return new Promise<void>((resolve) => {
      const deadline = start + durationMs * 3 + 1000;
      const timer = setInterval(() => {
        const now = performance.now();
        // Bounded catch-up: a long stall sends what is due, a tick at a time.
        for (let budget = 10_000; budget > 0 && k < total; budget--) {
          const due = start + k * interval;
          if (due > now) break;
          const { conn, team } = this.publishers[k % this.publishers.length];
          this.publish(conn, team, due);
          k++;
        }
        if (k >= total || now > deadline) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
  }

  private publishNext(conn: Conn, sendTime: number): void {
    const team = conn.publishesTo[conn.nextPublish++ % conn.publishesTo.length];
    this.publish(conn, team, sendTime);
  }

  private publish(conn: Conn, team: number, sendTime: number): void {
    const n = ++this.messageNumber;
    conn.sent++;
    this.teamSent[team]++;
    this.expected += this.teamMembers[team] - 1;
    this.totalSent++;
    this.protocol.publish(
      conn.client,
      encodeData(sendTime, conn.client.index, n, this.pad),
      n,
      this.multiTeam ? `t${team}` : undefined,
    );
  }

  // ---- accounting -------------------------------------------------------------

  private beginPhase(sampleEvery: number): void {
    for (const conn of this.conns) {
      conn.received = 0;
      conn.sent = 0;
    }
    this.teamSent.fill(0);
    this.expected = 0;
    this.totalSent = 0;
    this.totalAcked = 0;
    this.totalReceived = 0;
    this.sampleEvery = sampleEvery;
    this.sampleCount = 0;
    this.latency.reset();
  }

  private inFlight(): number {
    return this.expected - this.totalReceived;
  }

  /**
   * Waits until every message is acked and every delivery arrived. Late deliveries
   * are still waited for while they keep coming (a slow arm is slow, not lossy),
   * up to the drain timeout; returns whether everything arrived.
   */
  private async drain(): Promise<boolean> {
    const deadline = performance.now() + this.plan.drainTimeoutMs;
    let seen = this.totalReceived;
    let progressAt = performance.now();
    for (let now = progressAt; now < deadline; now = performance.now()) {
      if (this.totalAcked >= this.totalSent && this.totalReceived >= this.expected) return true;
      if (this.totalReceived !== seen) {
        seen = this.totalReceived;
        progressAt = now;
      } else if (now - progressAt > DRAIN_STALL_MS) {
        return false;
      }
      await sleep(10);
    }
    return false;
  }

  private counts(drained: boolean): PhaseCounts {
    let lost = 0;
    let duplicated = 0;
    for (const conn of this.conns) {
      // A connection gets every message of its teams but its own.
      let due = -conn.sent;
      for (const team of conn.teams) due += this.teamSent[team];
      if (conn.received < due) lost += due - conn.received;
      else duplicated += conn.received - due;
    }
    return {
      sent: this.totalSent,
      acked: this.totalAcked,
      expected: this.expected,
      received: this.totalReceived,
      lost,
      duplicated,
      drained,
    };
  }

  private serverCpu(): number {
    return totalCpuSeconds(this.plan.serverPids, this.plan.clockTicksPerS);
  }

  private serverWriteCalls(): number {
    return totalWriteCalls(this.plan.serverPids);
  }

  private serverCpuPerProcess(): number[] {
    return this.plan.serverPids.map((pid) => cpuSeconds(pid, this.plan.clockTicksPerS));
  }

  private checkDecode(text: string): void {
    try {
      if (isBenchData(this.protocol.decode(text))) return;
    } catch {
      // counted below
    }
    this.decodeFailures++;
    this.example(`undecodable delivery: ${text.slice(0, 200)}`);
  }

  private example(text: string): void {
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(text);
  }
}
