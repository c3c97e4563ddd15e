import type { LoopStats } from './loop-stats';

/**
 * What the orchestrator asks of one load-generator run and what it gets back, over
 * the IPC channel of the load-generator process.
 */

/** `switchboard`: Switchboard's frames (also spoken by the raw ws arms); `socket-io`: Engine.IO 4 + Socket.IO 5. */
export type WireProtocol = 'switchboard' | 'socket-io';

export interface LoadPlan {
  arm: string;
  protocol: WireProtocol;
  /** Port that publishers connect to; receivers use `receiverPort` (they differ on the two-node arm). */
  publisherPort: number;
  receiverPort: number;
  /** Every server-side process of the arm: their CPU and RSS are the arm's cost. */
  serverPids: number[];
  connections: number;
  teamSize: number;
  /** Teams each connection follows (home team + subscriptions); absent means one. */
  teamsPerConnection?: number;
  /** The first members of each team publish; in the fixed-load phase they take turns. */
  publishersPerTeam: number;
  /** Handshakes in flight at once while connecting. */
  connectConcurrency: number;
  /** Throwaway connections per server port opened and closed before the measured connect (connect-warmup.ts). */
  connectWarmup: number;
  settleMs: number;
  warmupMs: number;
  latencyMs: number;
  saturationMs: number;
  /** After a phase, wait for late deliveries while they still arrive, at most this long. */
  drainTimeoutMs: number;
  /** Fixed load of the latency phase, in deliveries (not messages) per second. */
  offeredDeliveriesPerS: number;
  /** Messages each publisher keeps in flight (unacked) in the saturation phase. */
  window: number;
  /**
   * Deliveries in flight (published, not yet received) allowed in the saturation
   * phase. An ack means "stored", not "delivered": on the two-node arm acks come
   * from the publishers' node long before the other node has delivered, so acks
   * alone would let a backlog grow without bound.
   */
  inFlightDeliveries: number;
  /** Extra characters of padding in each message's data. */
  payloadBytes: number;
  /** In the saturation phase, one delivery in this many is decoded for its latency. */
  saturationSampleEvery: number;
  /** One delivery in this many is fully JSON-decoded and checked. */
  decodeCheckEvery: number;
  /** Send Switchboard's optional `ref` (idempotency key) with every message. */
  useRef: boolean;
  /** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK). */
  clockTicksPerS: number;
  /** Where the servers' loop probes answer, and which server processes have one (Node only). */
  loopStatsDir?: string;
  probePids?: number[];
}

export interface PhaseCounts {
  /** Messages published in the phase. */
  sent: number;
  acked: number;
  /** Deliveries due: every member of the team but the sending connection. */
  expected: number;
  received: number;
  /** Deliveries a connection should have had and did not get. */
  lost: number;
  /** Deliveries beyond what a connection should have had. */
  duplicated: number;
  /** Every due delivery arrived before the drain gave up (3 s without progress, or the timeout). */
  drained: boolean;
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadResult {
  connect: {
    connections: number;
    ms: number;
    perS: number;
    serverCpuS: number;
    /**
     * Each server process's CPU seconds from the first handshake until the servers
     * were idle again: unlike serverCpuS it holds the work joins leave behind (on the
     * Redis arm the other node's presence events), and it shows which process did it.
     */
    perProcessCpuS: number[];
    /** After the settle pause, how long the servers stayed busy (see waitForIdleServers). */
    busyAfterMs: number;
    /**
     * Write system calls the servers made while connecting, summed (proc-stats.ts
     * writeCalls; 0 where /proc/<pid>/io is unreadable): per connection, the 101 and
     * welcome and the presence frames' writes, as the kernel got them.
     */
    serverWriteCalls: number;
  };
  rss: {
    /** Sum over the arm's processes, before the first connection. */
    idleBytes: number;
    /** Sum over the arm's processes, once connected and settled. */
    connectedBytes: number;
    perConnectionBytes: number;
    perProcess: { pid: number; idleBytes: number; connectedBytes: number }[];
  };
  latency: PhaseCounts &
    LatencySummary & {
      offeredPerS: number;
      /** Deliveries received per second over the phase. */
      achievedPerS: number;
      serverCpuS: number;
      loadgenCpuPct: number;
      /** Event-loop delay and GC pauses of each Node server process over the phase (absent in older results). */
      loop?: LoopStats[];
      /**
       * The load generator's own, over the same phase (absent in older results): a
       * delivery waits for its loop as much as for the server's, and a message due
       * while it is stalled is sent late.
       */
      loadgenLoop?: LoopStats;
    };
  saturation: PhaseCounts &
    LatencySummary & {
      seconds: number;
      deliveriesPerS: number;
      messagesPerS: number;
      serverCpuS: number;
      /** Server CPU over wall time, summed over processes (100 = one core). */
      serverCpuPct: number;
      /** CPU seconds of each server process, in the order of `serverPids`. */
      perProcessCpuS: number[];
      deliveriesPerCpuS: number;
      loadgenCpuPct: number;
    };
  anomalies: {
    errorFrames: number;
    /** Connections that closed while the run still needed them. */
    closes: number;
    decodeFailures: number;
    /** The first few error frames or close reasons, for a human. */
    examples: string[];
  };
}

/**
 * Reconnect storm: everyone connected and following a team, then (when the load generator
 * asks for it with `disrupt`) the orchestrator kills or restarts a node and every
 * client it held reconnects at once, resuming with `since`/`epoch` where the protocol has it.
 */
export interface StormPlan {
  arm: string;
  protocol: WireProtocol;
  /** Port of each client's first connection, by `index % ports.length` (two nodes: alternate). */
  ports: number[];
  /** The clients first connected to this port are the ones the disruption closes. */
  disruptedPort: number;
  /** Where a disconnected client reconnects (the restarted node, or the surviving one). */
  reconnectPort: number;
  connections: number;
  teamSize: number;
  connectConcurrency: number;
  /** Live team messages per second (one publisher per team, member 0) before and during the storm. */
  messagesPerS: number;
  /** Resume with since/epoch and check seqs (Switchboard only). */
  resume: boolean;
  payloadBytes: number;
  /** Gives up on the storm after this long. */
  stormTimeoutMs: number;
}

export interface StormResult {
  connections: number;
  connectMs: number;
  /** Clients whose connection the disruption closed. */
  disconnected: number;
  /** Of those, how many were back (resumed, or ready without resume) before the timeout. */
  back: number;
  /** From the disruption until the last disconnected client was back. */
  allBackMs: number;
  /** Back 50 % / 99 % of clients. */
  p50BackMs: number;
  p99BackMs: number;
  /** Reconnect attempts refused or failed (the node was not up yet). */
  failedAttempts: number;
  /** `resumed` frames with complete:true / false; welcomes with a new epoch. */
  resumedComplete: number;
  resumedIncomplete: number;
  epochChanged: number;
  /** Messages acked by the server and never seen by a client that follows the team (seq gaps and a short tail). */
  lost: number;
  duplicated: number;
  /** Live deliveries to clients that kept their connection, from the disruption until all were back. */
  undisturbed: { samples: number; p50Ms: number; p99Ms: number; maxMs: number };
  errorFrames: number;
  examples: string[];
}

/** C100k: many connections held by one process; figures the reader asked for in issue #14. */
export interface HoldPlan {
  arm: string;
  protocol: WireProtocol;
  port: number;
  serverPid: number;
  adminToken: string;
  connections: number;
  teamSize: number;
  connectConcurrency: number;
  /** Source addresses 127.0.0.1..N: each has its own ~28,000 ephemeral ports. */
  sourceAddresses: number;
  /** Idle hold, for the heartbeat cost: consecutive windows, the quietest reported. */
  idleWindowsMs: number[];
  /** Fixed team-message load while held, for p99. */
  latencyMs: number;
  deliveriesPerS: number;
  payloadBytes: number;
  clockTicksPerS: number;
}

export interface HoldResult {
  requested: number;
  held: number;
  connectMs: number;
  connectPerS: number;
  idleRssBytes: number;
  heldRssBytes: number;
  rssPerConnectionBytes: number;
  idleWindowS: number;
  /** Server CPU seconds per minute while idle (heartbeats and nothing else): the quietest window. */
  idleCpuSPerMin: number;
  /** Each idle window's; absent in results written before the hold was split. */
  idleWindowsCpuSPerMin?: number[];
  /** The same before any connection; absent in results written before it was measured. */
  emptyCpuSPerMin?: number;
  broadcastMs: number;
  broadcastReached: number;
  latency: { samples: number; p50Ms: number; p99Ms: number; maxMs: number; lost: number };
  /** Connections closed while held. */
  dropped: number;
  examples: string[];
}

export type ToLoadgen =
  | { type: 'plan'; plan: LoadPlan }
  | { type: 'storm'; plan: StormPlan }
  | { type: 'hold'; plan: HoldPlan }
  /** Answer to `disrupt`: the node is killed (a restarted one may still be starting). */
  | { type: 'disrupted' };
export type FromLoadgen =
  | { type: 'result'; result: LoadResult }
  | { type: 'storm-result'; result: StormResult }
  | { type: 'hold-result'; result: HoldResult }
  | { type: 'disrupt' }
  | { type: 'failed'; message: string };
