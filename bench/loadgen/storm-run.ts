import type { Protocol } from './protocol';
import { FrameKind } from './protocol';
import type { StormPlan, StormResult } from './contract';
import { LatencyRecorder } from './latency-recorder';
import { encodeData, readSendTime } from './message-data';
import { startRamp } from './ramp';
import { WsClient, type ClientHandler } from './ws-client';

/**
 * Reconnect storm: connect everyone, keep a light live load going, ask the
 * orchestrator to kill (or restart) a node, and time how long every client it held
 * takes to come back, reconnecting all at once, with since/epoch on Switchboard. Each
 * Switchboard client checks its team's seqs for holes and repeats throughout.
 */

interface Conn {
  index: number;
  team: number;
  client: WsClient;
  publisher: boolean;
  /** The connection is up and past its welcome (and its resume, when reconnecting). */
  live: boolean;
  /** Lost its connection to the disruption, and when it came back (ms after it). */
  disrupted: boolean;
  backAtMs: number;
  lastSeq: number;
  epoch: string;
}

const TYPE_PREFIX = Buffer.from('{"type":"');
const SEQ = Buffer.from('"seq":');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const RETRY_MIN_MS = 100;
/** A drain gives up once no client's seqs moved for this long. */
const DRAIN_STALL_MS = 3000;
const MAX_EXAMPLES = 5;

function readSeq(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf(SEQ, start);
  if (at < 0 || at >= end) return -1;
  let n = 0;
  let i = at + SEQ.length;
  for (; i < end; i++) {
    const c = buf[i] - 0x30;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return i === at + SEQ.length ? -1 : n;
}

export class StormRun implements ClientHandler {
  private readonly conns: Conn[] = [];
  private readonly publishers: Conn[] = [];
  /** Highest seq acked per team, in the team's current epoch. */
  private readonly teamSeq: number[] = [];
  private readonly pad: string;
  private readonly undisturbed = new LatencyRecorder(2_000_000);
  private disruptedAt = -1;
  private measuring = false;
  private finished = false;
  private readyCount = 0;
  private onReady: (() => void) | undefined;
  private publishing = false;
  private messageNumber = 0;
  private failedAttempts = 0;
  private resumedComplete = 0;
  private resumedIncomplete = 0;
  private epochChanged = 0;
  private gaps = 0;
  private duplicated = 0;
  private errorFrames = 0;
  private progress = 0;
  private readonly examples: string[] = [];

  constructor(
    private readonly plan: StormPlan,
    private readonly protocol: Protocol,
    private readonly disrupt: () => Promise<void>,
  ) {
    this.pad = 'x'.repeat(plan.payloadBytes);
    const teams = Math.ceil(plan.connections / plan.teamSize);
    for (let t = 0; t < teams; t++) this.teamSeq.push(0);
    for (let i = 0; i < plan.connections; i++) {
      const team = Math.floor(i / plan.teamSize);
      const member = i - team * plan.teamSize;
      const conn: Conn = {
        index: i,
        team,
        client: new WsClient(i, this),
        // Member 0 publishes; on two nodes it is on the first (surviving) one.
        publisher: member === 0 && plan.connections - team * plan.teamSize > 1,
        live: false,
        disrupted: false,
        backAtMs: -1,
        lastSeq: 0,
        epoch: '',
      };
      this.conns.push(conn);
      if (conn.publisher) this.publishers.push(conn);
    }
  }

  async run(): Promise<StormResult> {
    const { plan } = this;
    const connectMs = await this.connectAll();
    this.publishing = true;
    const load = this.liveLoad();
    // Some live traffic before the storm, so resumes have something to replay.
    await sleep(1000);
    this.measuring = true;
    this.disruptedAt = performance.now();
    await this.disrupt();
    const deadline = this.disruptedAt + plan.stormTimeoutMs;
    // Close events arrive over a few turns: wait for every client of the killed node.
    const expected = this.conns.filter(
      (c) => plan.ports[c.index % plan.ports.length] === plan.disruptedPort,
    ).length;
    while (performance.now() < deadline) {
      const disrupted = this.disruptedCount();
      if (disrupted >= expected && this.backCount() === disrupted) break;
      await sleep(20);
    }
    const allBackAt = performance.now();
    this.measuring = false;
    // Live traffic a little longer after the last resume, then every acked message must arrive.
    await sleep(500);
    this.publishing = false;
    await load;
    await this.drain();
    this.finished = true;
    for (const c of this.conns) c.client.close();

    const back = this.conns
      .filter((c) => c.disrupted && c.backAtMs >= 0)
      .map((c) => c.backAtMs)
      .sort((a, b) => a - b);
    const at = (q: number) => (back.length === 0 ? NaN : back[Math.floor(q * (back.length - 1))]);
    return {
      connections: plan.connections,
      connectMs,
      disconnected: this.disruptedCount(),
      back: back.length,
      allBackMs:
        back.length === this.disruptedCount() && back.length > 0
          ? back[back.length - 1]
          : allBackAt - this.disruptedAt,
      p50BackMs: at(0.5),
      p99BackMs: at(0.99),
      failedAttempts: this.failedAttempts,
      resumedComplete: this.resumedComplete,
      resumedIncomplete: this.resumedIncomplete,
      epochChanged: this.epochChanged,
      lost: plan.resume ? this.gaps + this.tail() : 0,
      duplicated: this.duplicated,
      undisturbed: this.undisturbed.summary(),
      errorFrames: this.errorFrames,
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
    if (!this.plan.resume) {
      const kind = this.protocol.classify(client, buf, start, end);
      if (kind === FrameKind.ready) this.becameLive(conn, now);
      else if (kind === FrameKind.message) this.sample(conn, buf, start, end, now);
      else if (kind === FrameKind.error) this.error(buf, start, end);
      return;
    }
    const at = start + TYPE_PREFIX.length;
    if (at + 1 >= end || buf.compare(TYPE_PREFIX, 0, TYPE_PREFIX.length, start, at) !== 0) return;
    switch (buf[at]) {
      case 0x6d /* m: message */: {
        if (buf[at + 1] !== 0x65) return; // "members"
        const seq = readSeq(buf, start, end);
        // A publisher is never sent its own messages, so its seqs prove nothing.
        if (seq < 0 || conn.publisher) return;
        if (seq <= conn.lastSeq) this.duplicated++;
        else {
          this.gaps += seq - conn.lastSeq - 1;
          conn.lastSeq = seq;
          this.progress++;
        }
        if (conn.live) this.sample(conn, buf, start, end, now);
        return;
      }
      case 0x61 /* a: ack */: {
        const seq = readSeq(buf, start, end);
        if (seq > this.teamSeq[conn.team]) this.teamSeq[conn.team] = seq;
        return;
      }
      case 0x77 /* w: welcome */: {
        const welcome = JSON.parse(buf.toString('utf8', start, end)) as {
          seq: number;
          epoch: string;
        };
        const first = conn.epoch === '';
        if (!first && welcome.epoch !== conn.epoch) {
          // The node lost the team's history (memory engine restarted): seqs start over.
          this.epochChanged++;
          conn.lastSeq = welcome.seq;
          this.teamSeq[conn.team] = Math.min(this.teamSeq[conn.team], welcome.seq);
        }
        if (first) conn.lastSeq = welcome.seq;
        conn.epoch = welcome.epoch;
        if (first) this.becameLive(conn, now);
        return;
      }
      case 0x72 /* r: resumed */: {
        const resumed = JSON.parse(buf.toString('utf8', start, end)) as { complete: boolean };
        if (resumed.complete) this.resumedComplete++;
        else this.resumedIncomplete++;
        this.becameLive(conn, now);
        return;
      }
      case 0x65 /* e: epoch or error */:
        if (buf[at + 1] === 0x72) this.error(buf, start, end);
        else this.epochChanged++;
        return;
      default:
        return;
    }
  }

  closed(client: WsClient, reason: string): void {
    if (this.finished) return;
    const conn = this.conns[client.index];
    if (conn.client !== client) return;
    const wasLive = conn.live;
    conn.live = false;
    if (!this.measuring) {
      this.example(`closed outside the storm: ${reason}`);
      return;
    }
    if (wasLive) {
      conn.disrupted = true;
      conn.backAtMs = -1;
      // Every client at once, as a real fleet does when its node goes.
      this.reconnect(conn, 0);
    } else {
      this.failedAttempts++;
      this.reconnect(conn, RETRY_MIN_MS + Math.random() * RETRY_MIN_MS);
    }
  }

  // ---- internals --------------------------------------------------------------

  private sample(conn: Conn, buf: Buffer, start: number, end: number, now: number): void {
    // Clients of the killed node are excluded even before their close event arrives.
    if (
      !this.measuring ||
      conn.disrupted ||
      this.plan.ports[conn.index % this.plan.ports.length] === this.plan.disruptedPort
    )
      return;
    const sentAt = readSendTime(buf, start, end);
    if (sentAt >= 0) this.undisturbed.add(now - sentAt);
  }

  private becameLive(conn: Conn, now: number): void {
    if (conn.live) return;
    conn.live = true;
    if (conn.disrupted) {
      conn.backAtMs = now - this.disruptedAt;
      return;
    }
    this.readyCount++;
    this.onReady?.();
  }

  private reconnect(conn: Conn, delayMs: number): void {
    const go = () => {
      if (this.finished) return;
      conn.client = new WsClient(conn.index, this);
      conn.client.open(this.plan.reconnectPort, this.path(conn));
    };
    if (delayMs <= 0) go();
    else setTimeout(go, delayMs);
  }

  private path(conn: Conn): string {
    const base = this.protocol.path({
      id: `u${conn.index}`,
      name: `user ${conn.index}`,
      teamId: `t${conn.team}`,
    });
    return this.plan.resume && conn.epoch !== ''
      ? `${base}&since=${conn.lastSeq}&epoch=${encodeURIComponent(conn.epoch)}`
      : base;
  }

  private connectAll(): Promise<number> {
    const { plan } = this;
    const ramp = startRamp({
      count: plan.connections,
      concurrency: plan.connectConcurrency,
      timeoutMs: Math.max(180_000, plan.connections * 20),
      open: (i) => {
        const conn = this.conns[i];
        conn.client.open(plan.ports[conn.index % plan.ports.length], this.path(conn));
      },
      timedOut: () => new Error(`storm: only ${this.readyCount} connected after 180 s`),
    });
    this.onReady = () => ramp.settled();
    return ramp.done.finally(() => {
      this.onReady = undefined;
    });
  }

  /** Open loop over the team publishers; one that is down skips its turn. */
  private async liveLoad(): Promise<void> {
    const interval = 1000 / this.plan.messagesPerS;
    const start = performance.now();
    let k = 0;
    while (this.publishing) {
      const now = performance.now();
      for (let budget = 1000; budget > 0 && start + k * interval <= now; budget--) {
        const due = start + k * interval;
        const conn = this.publishers[k % this.publishers.length];
        k++;
        if (!conn.live) continue;
        const n = ++this.messageNumber;
        this.protocol.publish(conn.client, encodeData(due, conn.index, n, this.pad), n);
      }
      await sleep(1);
    }
  }

  /** Waits until every following client has its team's last acked seq, or progress stops. */
  private async drain(): Promise<void> {
    if (!this.plan.resume) return;
    let seen = this.progress;
    let movedAt = performance.now();
    while (this.tail() > 0 && performance.now() - movedAt < DRAIN_STALL_MS) {
      await sleep(20);
      if (this.progress !== seen) {
        seen = this.progress;
        movedAt = performance.now();
      }
    }
  }

  private tail(): number {
    let missing = 0;
    for (const c of this.conns) {
      if (c.publisher) continue;
      const due = this.teamSeq[c.team];
      if (c.lastSeq < due) missing += due - c.lastSeq;
    }
    return missing;
  }

  private disruptedCount(): number {
    let n = 0;
    for (const c of this.conns) if (c.disrupted) n++;
    return n;
  }

  private backCount(): number {
    let n = 0;
    for (const c of this.conns) if (c.disrupted && c.backAtMs >= 0) n++;
    return n;
  }

  private error(buf: Buffer, start: number, end: number): void {
    this.errorFrames++;
    this.example(`error frame: ${buf.toString('utf8', start, Math.min(end, start + 200))}`);
  }

  private example(text: string): void {
    if (this.examples.length < MAX_EXAMPLES) this.examples.push(text);
  }
}
