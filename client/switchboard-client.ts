/**
 * Switchboard client: one connection to `/socket` that reconnects and resumes on its
 * own, acknowledged sends, presence and history. Runs in browsers and in Node; it
 * uses no Node module and takes the WebSocket constructor as an option.
 *
 * All runtime code lives in this one file on purpose: browsers load the compiled
 * module with one request, and Node, jest and browsers resolve it the same way.
 * The wire types come from the shared protocol module (protocol/) by `import type`
 * only, which leaves no import in the compiled file.
 */
import type { CloseCode } from '../protocol/close-codes.js';
import type { SocketErrorCode } from '../protocol/errors.js';
import type {
  Ack,
  ClientFrame,
  EpochChange,
  HistoryPage,
  Member,
  Message,
  PresenceEvent,
  Resumed,
  ServerFrame,
  Subscribed,
  Welcome,
} from '../protocol/frames.js';

/** Codes of the server's `error` frames (docs/PROTOCOL.md §3). */
export type ServerErrorCode = SocketErrorCode;

// Every wire type, for code that handles frames itself.
export type * from '../protocol/frames.js';

/**
 * The part of a WebSocket this client uses. The browser's `WebSocket` and the `ws`
 * package's class both fit. Listener parameters are `never` so that both event
 * types are accepted; the handlers assigned below declare what they read.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ReconnectOptions {
  /** First delay after a connection drops. Default 500 ms. */
  initialDelayMs?: number;
  /** Upper bound of the delay. Default 15000 ms. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** 0-1: the share of each delay that is random, so clients do not return in step. Default 0.5. */
  jitter?: number;
  /** Consecutive failed attempts before giving up. Default Infinity. */
  maxAttempts?: number;
}

export interface SwitchboardOptions {
  /** `ws://` or `wss://` URL of `/socket`. Default in a browser: `/socket` on the page's host. */
  url?: string;
  id: string;
  name: string;
  teamId: string;
  /**
   * Needed when the server sets AUTH_SECRET. A function is called before every
   * connection attempt, so it can fetch a fresh token when the old one expired.
   */
  token?: string | (() => string | Promise<string>);
  /** Default `globalThis.WebSocket`. Node 20 has none: pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** How long send, sendTo, presence and history wait for the server. Default 10000 ms. */
  timeoutMs?: number;
  /** Application-level ping interval; browsers cannot see WebSocket pings. Default 20000 ms. */
  pingIntervalMs?: number;
  /** No frame at all this long after a ping: the connection is dead and gets replaced. Default 10000 ms. */
  pongTimeoutMs?: number;
  /** A connection that has no welcome after this long is abandoned. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** `false`: never reconnect. */
  reconnect?: false | ReconnectOptions;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when the client is going to reconnect (see the `reconnecting` event). */
  willReconnect: boolean;
}

/** An admin banned this user (close code 4003): the client stopped and will not reconnect. */
export interface BanInfo {
  code: 4003;
  /** The server's close reason. */
  reason: string;
}

export interface ClientEvents<T = unknown> {
  /** A connection is open, the first one or one after a reconnect. */
  open: Welcome;
  /** A message from someone else (or from this user's other connections), once and in order. */
  message: Message<T>;
  /** A user's first connection in the team opened, or their last one closed. */
  presence: PresenceEvent;
  /** A reconnect's replay is complete; on `complete: false`, reload history. */
  resumed: Resumed;
  /**
   * The team's history was reset, or the server could not deliver some messages:
   * seqs go on after `seq` in `epoch`. Messages before it may be missing: reload
   * history if they matter. The client resumes from here on its own.
   */
  epoch: EpochChange;
  /** An open connection closed. */
  close: CloseInfo;
  /**
   * An admin banned this user (close code 4003). The client does not reconnect: it
   * ends (state `closed`, pending calls reject with code `banned`). Calling
   * `connect()` again is the app's choice; until the ban expires or is lifted, the
   * server refuses the handshake.
   */
  banned: BanInfo;
  /** The next connection attempt is scheduled. */
  reconnecting: { attempt: number; delayMs: number };
  /** A failed connection attempt, or a server error not tied to one of your calls. */
  error: SwitchboardError;
  state: ConnectionState;
}

export type ClientErrorCode =
  | ServerErrorCode
  | 'timeout'
  | 'closed'
  | 'too_large'
  | 'connection_failed'
  | 'protocol'
  | 'banned';

const RETRYABLE = new Set<string>([
  'unavailable',
  'indeterminate',
  'rate_limited',
  'timeout',
  'internal',
]);

/** Wait before a send answered `indeterminate` goes again with its ref. */
const INDETERMINATE_RETRY_MS = 500;

export class SwitchboardError extends Error {
  /** A code of the server's `error` frame, or one of the client's own. */
  readonly code: ClientErrorCode;
  /** For sends: the ref; sending again with `{ ref }` is safe, it never publishes twice. */
  readonly ref: string | undefined;

  constructor(code: ClientErrorCode, message: string, ref?: string) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.ref = ref;
  }

  /** True when the same call may succeed later. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

/**
 * Close codes of docs/PROTOCOL.md §7 that this client reads. The numbers are
 * repeated here so that the module keeps no runtime import; `satisfies` holds
 * them to protocol/close-codes.ts.
 */
export const CloseCodes = {
  goingAway: 1001,
  tooLarge: 1009,
  kicked: 4000,
  banned: 4003,
  slowConsumer: 4008,
} as const satisfies {
  goingAway: (typeof CloseCode)['goingAway'];
  tooLarge: (typeof CloseCode)['tooBig'];
  kicked: (typeof CloseCode)['kicked'];
  banned: (typeof CloseCode)['banned'];
  slowConsumer: (typeof CloseCode)['slowConsumer'];
};

type Timer = ReturnType<typeof setTimeout>;
type Listener<P> = (payload: P) => void;

type RequestKind = 'send' | 'presence' | 'history' | 'ping' | 'subscribe' | 'unsubscribe';

interface Pending {
  kind: RequestKind;
  /** For subscribe and unsubscribe: the team, to match the reply. */
  teamId?: string;
  frame: string;
  ref: string | undefined;
  /** Socket generation it was last written to; 0 while waiting to be written. */
  gen: number;
  /** Position among the frames written to that socket. */
  index: number;
  /** A send written to an earlier socket that closed before its reply came. */
  wasInFlight: boolean;
  /** Dropped by the server's rate limit at least once. */
  rateLimited: boolean;
  timer: Timer | undefined;
  /** A send answered `indeterminate`, waiting to go again with its ref. */
  resend: Timer | undefined;
  reply(frame: ServerFrame): void;
  fail(error: SwitchboardError): void;
}

/** Inbound frames the application sees, in the order the server sent them. */
type Inbound<T> =
  | ({ type: 'message' } & Message<T>)
  | ({ type: 'presence' } & PresenceEvent)
  | ({ type: 'resumed' } & Resumed)
  | ({ type: 'epoch' } & EpochChange);

interface GlobalScope {
  WebSocket?: WebSocketConstructor;
  location?: { protocol: string; host: string };
  crypto?: { getRandomValues(array: Uint8Array): Uint8Array };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
}

const scope = globalThis as unknown as GlobalScope;
const ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const OPEN = 1;
const noop = () => undefined;

function randomId(): string {
  const bytes = new Uint8Array(9);
  if (scope.crypto) scope.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let out = '';
  for (const b of bytes) out += (b % 36).toString(36);
  return out;
}

function defaultUrl(): string {
  const loc = scope.location;
  if (!loc) throw new TypeError('SwitchboardClient: `url` is required outside a browser');
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/socket`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where the client is in one team's seqs: the highest seq seen in `epoch`, and its
 * own acked messages not yet passed by it. Resumes start after `seen`.
 */
class Cursor {
  seen = 0;
  epoch: string | undefined;
  private readonly own = new Set<number>();

  /** A new head (welcome or subscribed): of another epoch, what was known is dropped. */
  start(seq: number, epoch: string): void {
    if (this.epoch === epoch) return;
    this.reset(seq, epoch);
  }

  reset(seq: number, epoch: string): void {
    this.seen = seq;
    this.epoch = epoch;
    this.own.clear();
  }

  /** Bookkeeping for an ack: the client never receives its own message, so it counts as seen. */
  noteOwn(seq: number, holding: boolean): void {
    if (seq <= this.seen) return;
    if (!holding && seq === this.seen + 1) this.advance(seq);
    else this.own.add(seq);
  }

  /** A delivered message: false when it was seen already or is this client's own. */
  take(seq: number): boolean {
    if (seq <= this.seen) return false;
    const own = this.own.delete(seq);
    this.advance(seq);
    return !own;
  }

  private advance(seq: number): void {
    this.seen = Math.max(this.seen, seq);
    for (const s of this.own) if (s <= this.seen) this.own.delete(s);
    while (this.own.delete(this.seen + 1)) this.seen++;
  }
}

/**
 * What an inbound frame means for the app once its team's cursor has seen it:
 * the event to emit, or undefined for a message seen already or its own.
 */
function track<T>(cursor: Cursor, frame: Inbound<T>): TeamEvent<T> | undefined {
  switch (frame.type) {
    case 'message': {
      if (!cursor.take(frame.seq)) return undefined;
      const { type: _type, ...message } = frame;
      return { event: 'message', payload: message };
    }
    case 'presence': {
      const { type: _type, ...event } = frame;
      return { event: 'presence', payload: event };
    }
    case 'resumed': {
      const { type: _type, ...resumed } = frame;
      return { event: 'resumed', payload: resumed };
    }
    case 'epoch': {
      // What was known of the team's seqs no longer holds: count from here.
      cursor.reset(frame.seq, frame.epoch);
      const { type: _type, ...change } = frame;
      return { event: 'epoch', payload: change };
    }
  }
}

type TeamEvent<T> =
  | { event: 'message'; payload: Message<T> }
  | { event: 'presence'; payload: PresenceEvent }
  | { event: 'resumed'; payload: Resumed }
  | { event: 'epoch'; payload: EpochChange };

/** Why a subscription ended. */
export interface SubscriptionEnd {
  teamId: string;
  /**
   * `client`: unsubscribe() or the client closed; `server`: the server ended it (an
   * admin's ban on the team); `refused`: the server refused the subscribe (`error`).
   */
  reason: 'client' | 'server' | 'refused';
  error?: SwitchboardError;
}

export interface SubscriptionEvents<T = unknown> {
  /** The server confirmed it: on the first subscribe and again after every reconnect. */
  subscribed: Subscribed;
  /** A message of this team from someone else, once and in `seq` order. */
  message: Message<T>;
  presence: PresenceEvent;
  /** The replay after a reconnect is done; on `complete: false`, reload history. */
  resumed: Resumed;
  epoch: EpochChange;
  /** The subscription is over; the handle does nothing more. */
  unsubscribed: SubscriptionEnd;
}

/** What a subscription asks of its client; closures, so the client keeps its internals. */
interface SubscriptionHost<T> {
  send(
    build: (ref: string) => ClientFrame<T>,
    data: T,
    ref: string | undefined,
    teamId: string,
  ): Promise<Ack>;
  presence(teamId: string): Promise<Member[]>;
  history(teamId: string, query: { before?: number; limit?: number }): Promise<HistoryPage<T>>;
  unsubscribe(sub: TeamSubscription<T>): Promise<void>;
}

/** Typed listeners: the base of the client and of each team subscription. */
export class Emitter<E> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (err) {
        // A throwing listener must not leave the emitter half-updated; report it like
        // an uncaught error instead of swallowing it.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }
}

/**
 * One more team on the client's connection (docs/PROTOCOL.md §10), from
 * `client.subscribe(teamId)`: its own events and its own sends. The client
 * subscribes again after every reconnect, resuming after the last seq it saw.
 */
export class TeamSubscription<T = unknown> extends Emitter<SubscriptionEvents<T>> {
  /** Resolves with the first `subscribed`; rejects when the server refuses it. */
  readonly ready: Promise<Subscribed>;
  /** @internal */
  readonly cursor = new Cursor();
  private ended = false;
  private settleReady: { resolve(s: Subscribed): void; reject(e: SwitchboardError): void };

  constructor(
    readonly teamId: string,
    private readonly host: SubscriptionHost<T>,
  ) {
    super();
    let settle: { resolve(s: Subscribed): void; reject(e: SwitchboardError): void } = {
      resolve: noop,
      reject: noop,
    };
    this.ready = new Promise<Subscribed>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // An app that only listens for events must not see an unhandled rejection.
    this.ready.catch(noop);
    this.settleReady = settle;
  }

  /** False once it ended (see the `unsubscribed` event). */
  get active(): boolean {
    return !this.ended;
  }

  /** The last seq seen in this team, and its epoch. */
  get position(): { seq: number; epoch: string | undefined } {
    return { seq: this.cursor.seen, epoch: this.cursor.epoch };
  }

  once<K extends keyof SubscriptionEvents<T>>(event: K): Promise<SubscriptionEvents<T>[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        off();
        resolve(payload);
      });
    });
  }

  /** Sends to this team; resolves with the ack once the server has stored it. */
  send(data: T, options: { ref?: string } = {}): Promise<Ack> {
    const teamId = this.teamId;
    return this.host.send(
      (ref) => ({ type: 'team', data, ref, teamId }),
      data,
      options.ref,
      teamId,
    );
  }

  /** Sends to one user of this team. */
  sendTo(userId: string, data: T, options: { ref?: string } = {}): Promise<Ack> {
    if (!ID.test(userId)) {
      return Promise.reject(
        new SwitchboardError('bad_request', 'userId must be 1-64 chars of A-Z a-z 0-9 _ . : @ -'),
      );
    }
    const teamId = this.teamId;
    return this.host.send(
      (ref) => ({ type: 'direct', to: userId, data, ref, teamId }),
      data,
      options.ref,
      teamId,
    );
  }

  presence(): Promise<Member[]> {
    return this.host.presence(this.teamId);
  }

  history(query: { before?: number; limit?: number } = {}): Promise<HistoryPage<T>> {
    return this.host.history(this.teamId, query);
  }

  /** Stops receiving the team; resolves once the server confirmed (or at once, offline). */
  unsubscribe(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return this.host.unsubscribe(this);
  }

  /** @internal The server's `subscribed`. */
  confirmed(frame: Subscribed): void {
    this.cursor.start(frame.seq, frame.epoch);
    const subscribed = { teamId: frame.teamId, seq: frame.seq, epoch: frame.epoch };
    this.settleReady.resolve(subscribed);
    this.emit('subscribed', subscribed);
  }

  /** @internal */
  deliver(frame: Inbound<T>): void {
    const out = track(this.cursor, frame);
    if (out) this.emit(out.event, out.payload);
  }

  /** @internal */
  end(reason: SubscriptionEnd['reason'], error?: SwitchboardError): void {
    if (this.ended) return;
    this.ended = true;
    this.settleReady.reject(
      error ?? new SwitchboardError('closed', `the subscription to ${this.teamId} ended`),
    );
    this.emit('unsubscribed', { teamId: this.teamId, reason, ...(error ? { error } : {}) });
  }
}

/**
 * A Switchboard connection. Create it, add listeners, then `connect()`.
 *
 * Guarantees: `message` fires once per message and in `seq` order, across
 * reconnects (the client resumes with the last `seq` and `epoch` it saw and drops
 * duplicates); every send carries a `ref`, so sends in flight when a connection
 * drops are sent again on the next one without ever publishing twice.
 */
export class SwitchboardClient<T = unknown> extends Emitter<ClientEvents<T>> {
  private readonly url: string;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly timeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly backoff: Required<ReconnectOptions> | undefined;
  private readonly refPrefix = randomId();
  private refCounter = 0;

  private currentState: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  /** Bumped for every socket; replies are matched to the socket they answer. */
  private gen = 0;
  private frameIndex = 0;
  private welcomed = false;
  private currentWelcome: Welcome | undefined;
  private userClosed = false;
  private attempts = 0;

  private pending: Pending[] = [];
  private readonly byRef = new Map<string, Pending>();

  /** Where the client is in the home team's seqs. */
  private readonly home = new Cursor();
  /** The other teams followed, by id (docs/PROTOCOL.md §10). */
  private readonly subs = new Map<string, TeamSubscription<T>>();
  private readonly host: SubscriptionHost<T> = {
    send: (build, data, ref, teamId) => this.sendFrame(build, data, ref, teamId),
    presence: (teamId) => this.presenceOf(teamId),
    history: (teamId, query) => this.historyOf(teamId, query),
    unsubscribe: (sub) => this.unsubscribeFrom(sub),
  };
  /** While sends from a dropped connection are re-sent, inbound frames wait here. */
  private readonly holding = new Set<string>();
  private held: Inbound<T>[] = [];

  private reconnectTimer: Timer | undefined;
  private connectTimer: Timer | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private deadTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private retryDelayMs = 250;
  private sawRateLimit = false;
  private openWaiters: { resolve(w: Welcome): void; reject(e: SwitchboardError): void }[] = [];
  private readonly onOnline = () => {
    if (this.currentState === 'reconnecting') {
      clearTimeout(this.reconnectTimer);
      void this.openSocket();
    }
  };

  constructor(private readonly options: SwitchboardOptions) {
    super();
    for (const key of ['id', 'teamId'] as const) {
      if (!ID.test(options[key])) {
        throw new TypeError(
          `SwitchboardClient: ${key} must be 1-64 chars of A-Z a-z 0-9 _ . : @ -`,
        );
      }
    }
    if (typeof options.name !== 'string' || options.name.length === 0) {
      throw new TypeError('SwitchboardClient: name is required');
    }
    const impl = options.WebSocket ?? scope.WebSocket;
    if (!impl) {
      throw new TypeError(
        'SwitchboardClient: no WebSocket here; in Node pass `WebSocket` from the "ws" package',
      );
    }
    this.WebSocketImpl = impl;
    this.url = options.url ?? defaultUrl();
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 20_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.backoff =
      options.reconnect === false
        ? undefined
        : {
            initialDelayMs: options.reconnect?.initialDelayMs ?? 500,
            maxDelayMs: options.reconnect?.maxDelayMs ?? 15_000,
            factor: options.reconnect?.factor ?? 2,
            jitter: Math.min(1, Math.max(0, options.reconnect?.jitter ?? 0.5)),
            maxAttempts: options.reconnect?.maxAttempts ?? Infinity,
          };
  }

  // ---- public API ------------------------------------------------------------

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The current connection's welcome, while open. */
  get welcome(): Welcome | undefined {
    return this.welcomed ? this.currentWelcome : undefined;
  }

  /** The last seq this client has seen (delivered, or its own acked), and its epoch. */
  get position(): { seq: number; epoch: string | undefined } {
    return { seq: this.home.seen, epoch: this.home.epoch };
  }

  /** Resolves with the next event of this kind. */
  once<K extends keyof ClientEvents<T>>(event: K): Promise<ClientEvents<T>[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        off();
        resolve(payload);
      });
    });
  }

  /**
   * Opens the connection; resolves with the first welcome. Attempts that fail are
   * retried with backoff, so this waits until the server is reachable (or the
   * client is closed, or `maxAttempts` is used up: then it rejects).
   */
  connect(): Promise<Welcome> {
    if (this.welcomed && this.currentWelcome) return Promise.resolve(this.currentWelcome);
    const waiting = new Promise<Welcome>((resolve, reject) => {
      this.openWaiters.push({ resolve, reject });
    });
    if (this.currentState === 'idle' || this.currentState === 'closed') {
      this.userClosed = false;
      this.attempts = 0;
      scope.addEventListener?.('online', this.onOnline);
      this.setState('connecting');
      void this.openSocket();
    }
    return waiting;
  }

  /** Sends to the whole team; resolves with the ack once the server has stored it. */
  send(data: T, options: { ref?: string } = {}): Promise<Ack> {
    return this.sendFrame((ref) => ({ type: 'team', data, ref }), data, options.ref);
  }

  /** Sends to one user of the team (all of their connections). */
  sendTo(userId: string, data: T, options: { ref?: string } = {}): Promise<Ack> {
    if (!ID.test(userId)) {
      return Promise.reject(
        new SwitchboardError('bad_request', 'userId must be 1-64 chars of A-Z a-z 0-9 _ . : @ -'),
      );
    }
    return this.sendFrame((ref) => ({ type: 'direct', to: userId, data, ref }), data, options.ref);
  }

  /** Who is online in the team, with their connection counts. */
  presence(): Promise<Member[]> {
    return this.presenceOf(undefined);
  }

  /** Older messages visible to this user, oldest first; `before` is a seq. */
  history(query: { before?: number; limit?: number } = {}): Promise<HistoryPage<T>> {
    return this.historyOf(undefined, query);
  }

  /**
   * Follows another team on this connection (docs/PROTOCOL.md §10): the handle has
   * its own events and sends. Works before `connect()` too: it is sent with the
   * first welcome, and again (resuming) after every reconnect. Subscribing to a
   * team followed already returns the same handle.
   */
  subscribe(teamId: string): TeamSubscription<T> {
    if (!ID.test(teamId)) {
      throw new TypeError('SwitchboardClient: teamId must be 1-64 chars of A-Z a-z 0-9 _ . : @ -');
    }
    if (teamId === this.options.teamId) {
      throw new TypeError('SwitchboardClient: the home team is always followed');
    }
    const existing = this.subs.get(teamId);
    if (existing) return existing;
    const sub = new TeamSubscription<T>(teamId, this.host);
    this.subs.set(teamId, sub);
    if (this.welcomed) this.writeSubscribe(sub);
    return sub;
  }

  /** The teams followed besides the home team. */
  get subscriptions(): TeamSubscription<T>[] {
    return [...this.subs.values()];
  }

  private writeSubscribe(sub: TeamSubscription<T>): void {
    const { teamId, cursor } = sub;
    const frame: Extract<ClientFrame, { type: 'subscribe' }> = { type: 'subscribe', teamId };
    if (cursor.epoch !== undefined) {
      frame.since = cursor.seen;
      frame.epoch = cursor.epoch;
    }
    this.request(
      'subscribe',
      JSON.stringify(frame),
      undefined,
      (error) => {
        if (this.subs.get(teamId) === sub) this.subs.delete(teamId);
        sub.end(error.code === 'closed' ? 'client' : 'refused', error);
      },
      (f) => {
        if (f.type === 'subscribed') sub.confirmed(f);
      },
      teamId,
    );
  }

  private unsubscribeFrom(sub: TeamSubscription<T>): Promise<void> {
    const { teamId } = sub;
    if (this.subs.get(teamId) === sub) this.subs.delete(teamId);
    sub.end('client');
    if (!this.welcomed) return Promise.resolve();
    return new Promise((resolve) => {
      // Whatever the server says, the client is out: it no longer routes the team.
      this.request(
        'unsubscribe',
        JSON.stringify({ type: 'unsubscribe', teamId }),
        undefined,
        () => resolve(),
        () => resolve(),
        teamId,
      );
    });
  }

  private presenceOf(teamId: string | undefined): Promise<Member[]> {
    const frame = teamId === undefined ? { type: 'presence' } : { type: 'presence', teamId };
    return new Promise((resolve, reject) => {
      this.request('presence', JSON.stringify(frame), undefined, reject, (f) => {
        if (f.type === 'members') resolve(f.members);
      });
    });
  }

  private historyOf(
    teamId: string | undefined,
    query: { before?: number; limit?: number },
  ): Promise<HistoryPage<T>> {
    const frame: Extract<ClientFrame, { type: 'history' }> = { type: 'history' };
    if (query.before !== undefined) frame.before = query.before;
    if (query.limit !== undefined) frame.limit = query.limit;
    if (teamId !== undefined) frame.teamId = teamId;
    return new Promise((resolve, reject) => {
      this.request('history', JSON.stringify(frame), undefined, reject, (f) => {
        if (f.type === 'history') {
          resolve({ messages: f.messages as Message<T>[], more: f.more });
        }
      });
    });
  }

  /** Closes for good (until `connect()` again); pending calls reject with `closed`. */
  close(): void {
    this.userClosed = true;
    scope.removeEventListener?.('online', this.onOnline);
    clearTimeout(this.reconnectTimer);
    const wasOpen = this.welcomed;
    if (this.socket) {
      const socket = this.socket;
      this.dropSocket();
      try {
        socket.close(1000, 'client closed');
      } catch {
        // Already closing.
      }
    }
    this.finish(new SwitchboardError('closed', 'the client was closed'));
    if (wasOpen) this.emit('close', { code: 1000, reason: 'client closed', willReconnect: false });
  }

  // ---- requests ----------------------------------------------------------------

  /** `teamId`: the subscribed team the frame names; undefined for the home team. */
  private sendFrame(
    build: (ref: string) => ClientFrame<T>,
    data: T,
    givenRef: string | undefined,
    teamId?: string,
  ): Promise<Ack> {
    if (data === undefined) {
      return Promise.reject(new SwitchboardError('bad_request', 'data is required'));
    }
    const ref = givenRef ?? `${this.refPrefix}-${++this.refCounter}`;
    if (ref.length < 1 || ref.length > 64) {
      return Promise.reject(new SwitchboardError('bad_request', 'ref must be 1-64 characters'));
    }
    let frame: string;
    try {
      frame = JSON.stringify(build(ref));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return Promise.reject(new SwitchboardError('bad_request', `data is not JSON: ${why}`, ref));
    }
    return new Promise((resolve, reject) => {
      const existing = this.byRef.get(ref);
      if (existing) {
        // A retry while the first try is still waiting: the server would answer both
        // with the first ack, so this call waits for that one.
        const { reply, fail } = existing;
        existing.reply = (f) => {
          reply(f);
          if (f.type === 'ack') resolve({ ref, id: f.id, seq: f.seq });
        };
        existing.fail = (error) => {
          fail(error);
          reject(error);
        };
        return;
      }
      const cursor = this.cursorOf(teamId);
      this.request('send', frame, ref, reject, (f) => {
        if (f.type === 'ack') {
          cursor?.noteOwn(f.seq, this.holding.size > 0);
          resolve({ ref, id: f.id, seq: f.seq });
        }
      });
    });
  }

  /** The cursor of a team: the home team's, a subscription's, or none once unsubscribed. */
  private cursorOf(teamId: string | undefined): Cursor | undefined {
    if (teamId === undefined || teamId === this.options.teamId) return this.home;
    return this.subs.get(teamId)?.cursor;
  }

  private request(
    kind: RequestKind,
    frame: string,
    ref: string | undefined,
    fail: (error: SwitchboardError) => void,
    reply: (frame: ServerFrame) => void,
    teamId?: string,
  ): void {
    if (this.currentState === 'closed' || this.currentState === 'idle') {
      fail(new SwitchboardError('closed', 'not connected: call connect() first', ref));
      return;
    }
    const p: Pending = {
      kind,
      ...(teamId === undefined ? {} : { teamId }),
      frame,
      ref,
      gen: 0,
      index: 0,
      wasInFlight: false,
      rateLimited: false,
      timer: undefined,
      resend: undefined,
      reply,
      fail,
    };
    if (kind !== 'ping') {
      p.timer = setTimeout(() => {
        this.settle(p, () =>
          p.fail(
            p.rateLimited
              ? new SwitchboardError(
                  'rate_limited',
                  'the server kept dropping it (rate limit)',
                  ref,
                )
              : new SwitchboardError('timeout', `no answer in ${this.timeoutMs} ms`, ref),
          ),
        );
      }, this.timeoutMs);
    }
    this.pending.push(p);
    if (ref !== undefined) this.byRef.set(ref, p);
    if (this.welcomed) this.write(p);
  }

  private write(p: Pending): void {
    const socket = this.socket;
    if (!socket || !this.welcomed || socket.readyState !== OPEN) return;
    p.gen = this.gen;
    p.index = ++this.frameIndex;
    socket.send(p.frame);
    if (p.kind === 'ping' && this.deadTimer === undefined) {
      this.deadTimer = setTimeout(() => this.abandon('no answer to ping'), this.pongTimeoutMs);
    }
  }

  private remove(p: Pending): void {
    clearTimeout(p.timer);
    clearTimeout(p.resend);
    const i = this.pending.indexOf(p);
    if (i >= 0) this.pending.splice(i, 1);
    if (p.ref !== undefined && this.byRef.get(p.ref) === p) this.byRef.delete(p.ref);
  }

  /**
   * Removes a request and runs its outcome; the last re-sent send to settle releases
   * the inbound frames held since the reconnect (after its ack is noted, so a replayed
   * copy of that message is recognised as this client's own).
   */
  private settle(p: Pending, outcome: () => void): void {
    this.remove(p);
    outcome();
    if (p.ref !== undefined && this.holding.delete(p.ref) && this.holding.size === 0) {
      this.releaseHeld();
    }
  }

  /** The oldest request of a kind on the current socket. */
  private oldest(kinds: RequestKind[]): Pending | undefined {
    return this.pending.find((p) => p.gen === this.gen && kinds.includes(p.kind));
  }

  private ping(): void {
    this.request('ping', JSON.stringify({ type: 'ping' }), undefined, noop, noop);
  }

  // ---- sockets -------------------------------------------------------------------

  private async openSocket(): Promise<void> {
    const gen = ++this.gen;
    this.welcomed = false;
    let token: string | undefined;
    try {
      token =
        typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    } catch (err) {
      if (gen !== this.gen || this.userClosed) return;
      this.attemptFailed(`token: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (gen !== this.gen || this.userClosed) return;
    const q = new URLSearchParams({
      id: this.options.id,
      name: this.options.name,
      teamId: this.options.teamId,
    });
    if (this.home.epoch !== undefined) {
      q.set('since', String(this.home.seen));
      q.set('epoch', this.home.epoch);
    }
    if (token !== undefined) q.set('token', token);
    const url = `${this.url}${this.url.includes('?') ? '&' : '?'}${q.toString()}`;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(url);
    } catch (err) {
      this.attemptFailed(err instanceof Error ? err.message : String(err));
      return;
    }
    this.socket = socket;
    this.frameIndex = 0;
    socket.onopen = noop;
    socket.onerror = noop;
    socket.onmessage = (event: { data: unknown }) => {
      if (socket === this.socket) this.onData(event.data);
    };
    socket.onclose = (event: { code: number; reason: string }) => {
      if (socket === this.socket) this.onSocketClose(event.code, String(event.reason ?? ''));
    };
    this.connectTimer = setTimeout(() => this.abandon('connect timeout'), this.connectTimeoutMs);
  }

  /** Gives up on the current socket without waiting for a close handshake that may never come. */
  private abandon(reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    this.dropSocket();
    const killable = socket as WebSocketLike & { terminate?: () => void };
    try {
      if (typeof killable.terminate === 'function') killable.terminate();
      else socket.close();
    } catch {
      // Closing a socket that never opened may throw; it is gone either way.
    }
    this.afterClose(1006, reason);
  }

  /** Detaches the current socket: nothing it does later reaches this client. */
  private dropSocket(): void {
    const socket = this.socket;
    if (socket) {
      socket.onmessage = noop;
      socket.onclose = noop;
      // An error listener stays: `ws` throws on an error event nobody listens to.
      socket.onerror = noop;
    }
    this.socket = undefined;
    clearTimeout(this.connectTimer);
    clearTimeout(this.deadTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.deadTimer = undefined;
    this.retryTimer = undefined;
  }

  private onSocketClose(code: number, reason: string): void {
    this.dropSocket();
    this.afterClose(code, reason);
  }

  private afterClose(code: number, reason: string): void {
    const wasOpen = this.welcomed;
    const closedGen = this.gen;
    this.welcomed = false;
    // Frames held for a resume are dropped: `seen` did not move, so they come again.
    this.held = [];
    this.holding.clear();
    let largest: Pending | undefined;
    for (const p of [...this.pending]) {
      if (p.kind === 'ping') {
        this.remove(p);
        continue;
      }
      if (p.gen !== closedGen || p.gen === 0) continue;
      p.gen = 0;
      if (p.kind === 'send') {
        p.wasInFlight = true;
        if (!largest || p.frame.length > largest.frame.length) largest = p;
      }
    }
    if (code === CloseCodes.tooLarge && largest) {
      // 1009: the server refused a frame's size. Sending it again would loop forever.
      this.remove(largest);
      largest.fail(
        new SwitchboardError(
          'too_large',
          'the message is larger than the server accepts',
          largest.ref,
        ),
      );
    }
    // 4003: an admin's ban. Reconnecting would only be refused, or, once the ban
    // expires, undo it without the app knowing: the app decides.
    const banned = code === CloseCodes.banned;
    const willReconnect =
      !banned &&
      !this.userClosed &&
      this.backoff !== undefined &&
      this.attempts < this.backoff.maxAttempts;
    if (banned) this.emit('banned', { code: CloseCodes.banned, reason });
    if (wasOpen) {
      this.emit('close', { code, reason, willReconnect });
    } else {
      this.emit(
        'error',
        new SwitchboardError(
          'connection_failed',
          `could not connect (${code}${reason ? `: ${reason}` : ''})`,
        ),
      );
    }
    if (willReconnect) this.scheduleReconnect();
    else if (banned) this.finish(new SwitchboardError('banned', 'banned by an admin'));
    else this.finish(new SwitchboardError('closed', `connection closed (${code})`));
  }

  private attemptFailed(reason: string): void {
    this.emit('error', new SwitchboardError('connection_failed', reason));
    if (!this.userClosed && this.backoff && this.attempts < this.backoff.maxAttempts) {
      this.scheduleReconnect();
    } else {
      this.finish(new SwitchboardError('closed', `could not connect: ${reason}`));
    }
  }

  private scheduleReconnect(): void {
    const b = this.backoff!;
    const attempt = ++this.attempts;
    const base = Math.min(b.maxDelayMs, b.initialDelayMs * b.factor ** (attempt - 1));
    const delayMs = Math.round(base * (1 - b.jitter * Math.random()));
    this.setState('reconnecting');
    this.emit('reconnecting', { attempt, delayMs });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delayMs);
  }

  /** Ends the client: pending calls and connect() waiters reject. */
  private finish(error: SwitchboardError): void {
    clearTimeout(this.reconnectTimer);
    scope.removeEventListener?.('online', this.onOnline);
    this.holding.clear();
    this.held = [];
    this.setState('closed');
    for (const sub of this.subs.values()) sub.end('client', error);
    this.subs.clear();
    for (const p of [...this.pending]) {
      this.remove(p);
      p.fail(new SwitchboardError(error.code, error.message, p.ref));
    }
    for (const w of this.openWaiters.splice(0)) w.reject(error);
  }

  // ---- inbound -------------------------------------------------------------------

  private onData(data: unknown): void {
    clearTimeout(this.deadTimer);
    this.deadTimer = undefined;
    if (typeof data !== 'string') {
      this.emit('error', new SwitchboardError('protocol', 'unexpected binary frame'));
      return;
    }
    let frame: ServerFrame<T>;
    try {
      const parsed: unknown = JSON.parse(data);
      if (!isRecord(parsed) || typeof parsed['type'] !== 'string') throw new Error('no type');
      frame = parsed as ServerFrame<T>;
    } catch {
      this.emit('error', new SwitchboardError('protocol', 'unreadable frame from the server'));
      return;
    }
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        return;
      case 'message':
      case 'presence':
      case 'resumed':
      case 'epoch':
        if (this.holding.size > 0) this.held.push(frame);
        else this.deliver(frame);
        return;
      case 'ack': {
        // Progress: a rate-limited client backs off only while nothing gets through.
        this.retryDelayMs = 250;
        const p = frame.ref === undefined ? undefined : this.byRef.get(frame.ref);
        if (p) this.settle(p, () => p.reply(frame));
        return;
      }
      case 'members':
      case 'history': {
        const p = this.oldest([frame.type === 'members' ? 'presence' : 'history']);
        if (p) this.settle(p, () => p.reply(frame));
        return;
      }
      case 'subscribed':
      case 'unsubscribed': {
        const kind = frame.type === 'subscribed' ? 'subscribe' : 'unsubscribe';
        const p = this.pending.find(
          (q) => q.gen === this.gen && q.kind === kind && q.teamId === frame.teamId,
        );
        if (p) {
          this.settle(p, () => p.reply(frame));
          return;
        }
        if (frame.type === 'unsubscribed') {
          // Not asked for: the server ended it (an admin's ban on the team).
          const sub = this.subs.get(frame.teamId);
          if (sub) {
            this.subs.delete(frame.teamId);
            sub.end('server');
          }
        }
        return;
      }
      case 'pong':
        this.onPong();
        return;
      case 'error':
        this.onError(frame);
        return;
      default:
        // A frame type from a newer server: ignore it.
        return;
    }
  }

  private onWelcome(w: Welcome): void {
    clearTimeout(this.connectTimer);
    const welcome: Welcome = {
      connId: w.connId,
      user: w.user,
      teamId: w.teamId,
      seq: w.seq,
      epoch: w.epoch,
      heartbeatMs: w.heartbeatMs,
    };
    // First connection, or the team's history was reset: count from the head.
    this.home.start(welcome.seq, welcome.epoch);
    this.currentWelcome = welcome;
    this.welcomed = true;
    this.attempts = 0;
    this.retryDelayMs = 250;
    for (const p of this.pending) {
      if (p.kind === 'send' && p.wasInFlight && p.ref !== undefined) this.holding.add(p.ref);
    }
    // Subscriptions are made again below, resuming; an unsubscribe cut off is done:
    // the new socket never followed the team.
    for (const p of [...this.pending]) {
      if (p.kind === 'unsubscribe')
        this.settle(p, () => p.reply({ type: 'unsubscribed', teamId: p.teamId ?? '' }));
      else if (p.kind === 'subscribe') this.remove(p);
    }
    // Before the sends that waited: a send to a subscribed team needs its subscription.
    for (const sub of this.subs.values()) this.writeSubscribe(sub);
    this.flushUnsent();
    this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
    this.setState('open');
    this.emit('open', welcome);
    for (const waiter of this.openWaiters.splice(0)) waiter.resolve(welcome);
  }

  private flushUnsent(): void {
    for (const p of [...this.pending]) {
      if (p.gen === this.gen) continue;
      if (p.kind === 'ping') this.remove(p);
      else this.write(p);
    }
  }

  /**
   * Every frame written before a ping was answered or dropped by the time its pong
   * arrives, since the server handles a connection's frames in order. Requests that
   * are still waiting were dropped (the rate limit): write them again.
   */
  private onPong(): void {
    const ping = this.oldest(['ping']);
    if (!ping) return;
    this.remove(ping);
    let dropped = false;
    for (const p of [...this.pending]) {
      if (p.gen !== this.gen || p.index >= ping.index) continue;
      if (p.kind === 'ping') {
        this.remove(p);
        continue;
      }
      dropped = true;
      p.gen = 0;
      if (this.sawRateLimit) p.rateLimited = true;
    }
    this.sawRateLimit = false;
    if (dropped) this.flushUnsent();
    else this.retryDelayMs = 250;
  }

  private onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const code = frame.code;
    const error = new SwitchboardError(code, frame.message, frame.ref);
    if (frame.ref !== undefined) {
      // No match: the call timed out already and its caller was told.
      const p = this.byRef.get(frame.ref);
      if (p && code === 'indeterminate' && p.kind === 'send') {
        this.resendLater(p);
        return;
      }
      if (p) this.settle(p, () => p.fail(error));
      return;
    }
    if (code === 'rate_limited') {
      // Some frame was dropped; which one shows once a ping after it is answered.
      this.sawRateLimit = true;
      // The probe waits, so the server's bucket refills before the dropped frames go again.
      if (this.retryTimer === undefined && this.pending.some((p) => p.kind !== 'ping')) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.ping();
        }, this.retryDelayMs);
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, 4000);
      }
      return;
    }
    const p = this.oldest(['presence', 'history', 'subscribe', 'unsubscribe']);
    if (p) {
      this.settle(p, () => p.fail(error));
      return;
    }
    this.emit('error', error);
  }

  /**
   * The server could not tell whether the send was stored. The same ref again is
   * answered with the first ack if it was, and publishes it if it was not, so the
   * call goes on until an ack, a definite refusal, or its timeout.
   */
  private resendLater(p: Pending): void {
    p.gen = 0;
    // If it was stored, a resume may replay it: held back like a send cut off by a drop.
    p.wasInFlight = true;
    clearTimeout(p.resend);
    p.resend = setTimeout(() => {
      p.resend = undefined;
      // A reconnect meanwhile has written it already.
      if (p.gen === 0) this.write(p);
    }, INDETERMINATE_RETRY_MS);
  }

  private deliver(frame: Inbound<T>): void {
    const teamId = frame.teamId;
    if (teamId !== undefined && teamId !== this.options.teamId) {
      // A team no longer followed: what was still on its way is dropped.
      this.subs.get(teamId)?.deliver(frame);
      return;
    }
    const out = track(this.home, frame);
    if (out) this.emit(out.event, out.payload);
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const frame of held) this.deliver(frame);
  }

  // ---- events ----------------------------------------------------------------------

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }
}
