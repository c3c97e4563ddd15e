/**
 * One client of the chaos run, on raw `ws` so the check does not lean on the
 * client library. It behaves as docs/PROTOCOL.md §2-§6 asks of a client and records
 * every frame that matters to the checker (chaos-check.ts) as it arrives:
 *
 * - every send has a unique ref and data naming the sender and a counter;
 * - `unavailable`, `indeterminate`, `rate_limited` or no answer: the same frame
 *   again, same ref, until an ack;
 * - a closed socket (or one silent past its liveness window: a frozen node):
 *   reconnect to a live node with since/epoch, then resend every unacked ref;
 * - `epoch` and `resumed complete:false` move it to the new epoch and seq.
 */
import WebSocket from 'ws';
import type { ClientRecord, SendRecord } from './chaos-check';
import { resumeUrl } from './socket-url';

export interface ChaosCluster {
  /** Ports of the nodes a client may connect to now (not killed, not stopped). */
  ports(): number[];
}

/**
 * A send with no answer for this long goes again (same ref). Longer than the nodes'
 * Redis command timeout (5 s), so a stalled backend answers first and the client has
 * one attempt in flight at a time, as a careful client would.
 */
const ANSWER_TIMEOUT_MS = 8000;
/** A socket that brought no frame or pong for this long is given up. */
const SILENCE_LIMIT_MS = 3000;
const PING_EVERY_MS = 1000;

type Frame = Record<string, unknown>;

export class ChaosClient {
  readonly record: ClientRecord;
  connected = false;
  reconnects = 0;
  readonly unexpected: string[] = [];
  private ws: WebSocket | undefined;
  private stopped = false;
  private epoch: string | undefined;
  private lastSeq = 0;
  /** The welcome's epoch of a resuming connection, until its `resumed`. */
  private resumingInto: string | undefined;
  private counter = 0;
  private readonly pending = new Map<string, SendRecord>();
  private readonly answerTimers = new Map<string, NodeJS.Timeout>();
  private lastFrameAt = 0;
  private liveness: NodeJS.Timeout | undefined;
  /** Time of the last message frame: the run waits for quiet before its final sync. */
  lastMessageAt = 0;

  constructor(
    readonly id: string,
    readonly team: string,
    private readonly run: string,
    private readonly cluster: ChaosCluster,
  ) {
    this.record = {
      id,
      team,
      sends: [],
      acks: [],
      observations: [],
      indeterminate: 0,
      answers: [],
    };
  }

  get unacked(): number {
    return this.pending.size;
  }

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const ports = this.cluster.ports();
    if (ports.length === 0) {
      setTimeout(() => this.connect(), 200);
      return;
    }
    const port = ports[Math.floor(Math.random() * ports.length)]!;
    const url = resumeUrl(port, {
      id: this.id,
      teamId: this.team,
      epoch: this.epoch,
      lastSeq: this.lastSeq,
    });
    const ws = new WebSocket(url, {
      handshakeTimeout: SILENCE_LIMIT_MS,
    });
    this.ws = ws;
    this.resumingInto = undefined;
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      this.record.observations.push({ kind: 'closed', at: Date.now(), code });
      this.connected = false;
      clearInterval(this.liveness);
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.connect(), 150 + Math.random() * 250);
    });
    ws.on('pong', () => {
      if (this.ws === ws) this.lastFrameAt = Date.now();
    });
    ws.on('message', (raw) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      this.onFrame(JSON.parse(raw.toString()) as Frame);
    });
  }

  private onFrame(frame: Frame): void {
    const at = Date.now();
    switch (frame['type']) {
      case 'welcome': {
        const epoch = String(frame['epoch']);
        const seq = Number(frame['seq']);
        this.record.observations.push({ kind: 'welcome', at, epoch, seq });
        if (this.epoch === undefined) {
          this.epoch = epoch;
          this.lastSeq = seq;
        } else {
          this.resumingInto = epoch;
        }
        this.connected = true;
        this.watch();
        for (const send of this.pending.values()) this.resend(send);
        return;
      }
      case 'resumed': {
        const complete = frame['complete'] === true;
        const seq = Number(frame['seq']);
        this.record.observations.push({
          kind: 'resumed',
          at,
          since: Number(frame['since']),
          seq,
          complete,
        });
        const into = this.resumingInto;
        this.resumingInto = undefined;
        if (into !== undefined && (!complete || into !== this.epoch)) {
          this.epoch = into;
          this.lastSeq = seq;
        }
        return;
      }
      case 'epoch': {
        const epoch = String(frame['epoch']);
        const seq = Number(frame['seq']);
        this.record.observations.push({ kind: 'epoch', at, epoch, seq });
        this.epoch = epoch;
        this.lastSeq = seq;
        return;
      }
      case 'message': {
        const seq = Number(frame['seq']);
        const from = frame['from'] as { id?: unknown } | undefined;
        this.record.observations.push({
          kind: 'message',
          at,
          id: String(frame['id']),
          seq,
          from: String(from?.id),
          data: frame['data'],
        });
        this.lastSeq = seq;
        this.lastMessageAt = at;
        return;
      }
      case 'ack': {
        const ref = String(frame['ref']);
        this.record.acks.push({
          ref,
          id: String(frame['id']),
          seq: Number(frame['seq']),
          epoch: this.epoch ?? '',
          at,
        });
        this.pending.delete(ref);
        clearTimeout(this.answerTimers.get(ref));
        this.answerTimers.delete(ref);
        return;
      }
      case 'error': {
        const code = String(frame['code']);
        const ref = typeof frame['ref'] === 'string' ? frame['ref'] : undefined;
        const send = ref === undefined ? undefined : this.pending.get(ref);
        if (code === 'indeterminate') this.record.indeterminate++;
        if (ref !== undefined) this.record.answers?.push({ ref, code, at });
        if (
          send &&
          (code === 'unavailable' || code === 'indeterminate' || code === 'rate_limited')
        ) {
          const delay = code === 'indeterminate' ? 100 : 300 + Math.random() * 300;
          this.armAnswerTimer(send, delay);
        } else if (this.unexpected.length < 20) {
          this.unexpected.push(`${this.id}: ${JSON.stringify(frame)}`);
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * Pings, and gives up on a socket that stays silent: a frozen node never closes it.
   * WebSocket pings, not `ping` frames: the node's ws answers them at once, while a
   * `ping` frame waits behind the sends before it, which wait for Redis; a stalled
   * Redis must not look like a dead node.
   */
  private watch(): void {
    clearInterval(this.liveness);
    const ws = this.ws;
    this.liveness = setInterval(() => {
      if (this.ws !== ws || !ws) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.ping();
    }, PING_EVERY_MS);
  }

  private write(send: SendRecord): boolean {
    if (!this.connected || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type: 'team', data: send.data, ref: send.ref }));
    return true;
  }

  private armAnswerTimer(send: SendRecord, ms: number): void {
    clearTimeout(this.answerTimers.get(send.ref));
    this.answerTimers.set(
      send.ref,
      setTimeout(() => this.resend(send), ms),
    );
  }

  private resend(send: SendRecord): void {
    if (!this.pending.has(send.ref)) return;
    if (this.write(send)) {
      send.resends++;
      send.writtenAt?.push(Date.now());
    }
    this.armAnswerTimer(send, ANSWER_TIMEOUT_MS);
  }

  /** One new message; false when not connected (a disconnected client waits, it does not queue). */
  send(): boolean {
    if (!this.connected) return false;
    const n = ++this.counter;
    const send: SendRecord = {
      ref: `${this.run}-${this.id}-${n}`,
      data: { from: this.id, n },
      firstSentAt: Date.now(),
      resends: 0,
      writtenAt: [Date.now()],
    };
    this.record.sends.push(send);
    this.pending.set(send.ref, send);
    this.write(send);
    this.armAnswerTimer(send, ANSWER_TIMEOUT_MS);
    return true;
  }

  /** A send, then the socket torn down at once, before its ack can come back. */
  dropMidSend(): boolean {
    if (!this.send()) return false;
    this.ws?.terminate();
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.liveness);
    for (const timer of this.answerTimers.values()) clearTimeout(timer);
    this.answerTimers.clear();
    this.ws?.terminate();
  }
}
