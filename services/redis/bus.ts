import { randomUUID } from 'node:crypto';
import type { RedisClient } from './connection';
import { Cluster, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { toDelivery, type Bus, type BusListener, type ClusterEvent, type Delivery } from '../bus';
import { isNewerEpoch } from '../epoch';
import { execAll, redisCall } from './call';
import { RedisReplyError, redisUnavailable } from './errors';
import { headKeys } from './history';
import type { RedisKeys } from './keys';
import { byMaster } from './master-groups';
import { defineScripts, publishGroupedScriptFor, publishScriptFor } from './scripts';
import {
  decodeClusterPayload,
  decodeLogEntry,
  decodeNodePayload,
  decodeRefRecord,
  decodeTeamPayload,
  encodeCanary,
  encodeEvent,
  pushMessageArgs,
  type StreamEntry,
} from './payload';
import { waitOnWritingConnection } from './replicas';
import { PublishReply, type PublishAnswer } from './publish-reply';
import { SocketScript } from './script-command';
import { sendScriptKnowingOutcome } from './send';
import { sendScriptThenWait, type ScriptThenWait } from './script-then-wait';
import { hashSlot } from './slot';
import { TeamHeads } from './team-heads';
import { TurnBatch, type ItemResult } from '../turn-batch';
import type { TurnWrites } from './turn-writes';
import { writeTogether } from './write-together';
import { stampMessage, type Ack, type Message, type MessageDraft } from '../types';

export interface RedisBusOptions {
  nodeId: string;
  /** Messages retained per team (stream MAXLEN). */
  retain: number;
  /** Seconds a team's seq, history and epoch live after its last message. */
  ttlSeconds: number;
  /** Seconds a `ref` is remembered. */
  idempotencyTtlSeconds: number;
  /** Append every accepted message to the archive backlog stream (SQL Server store on). */
  archive?: boolean;
  /**
   * With `archive`: most entries the backlog stream holds (on Redis Cluster each
   * slot's stream); past it sends are refused. 0: no bound.
   */
  archiveBacklogMax?: number;
  /**
   * With `archive`: told of the backlog stream a batch was appended to, once the
   * script ran (on Redis Cluster one stream per slot), so this node's archiver
   * reads it without waiting for its sweep.
   */
  onArchived?: (stream: string) => void;
  /** Replicas a message must reach (WAIT) before its publish resolves; 0 or unset: none. */
  ackReplicas?: number;
  /** Longest that WAIT blocks; the command timeout must be longer. */
  ackTimeoutMs?: number;
  /**
   * The client publish batches (script, then WAIT) are written on, so that a WAIT
   * held up by a lagging replica blocks only publishes, not the reads and presence
   * writes of the command client. On Redis Cluster a cluster client of its own: its
   * WAIT goes to its connection to the node that ran the script
   * (waitOnWritingConnection). Unset: the command client.
   */
  publisher?: RedisClient;
  /** The command client's TurnWrites: a turn's head reads leave with its presence adds. */
  turn?: TurnWrites;
  log: Logger;
}

interface TeamState {
  /**
   * Highest seq of `epoch` handed to listeners, or the team's head when this node
   * subscribed: read before SUBSCRIBE, so a message lost between the two (or on a
   * later dropped subscriber connection) shows as a gap even in a team that has
   * not had a message on this node yet.
   */
  last: number;
  /** The team's epoch as last seen; a newer one means Redis lost the history and seqs restart. */
  epoch: string;
  /** While a gap is being filled from the stream, live messages wait here. */
  waiting: Delivery[] | undefined;
  /** The subscriber reconnected while a refill was under way: it reads once more. */
  again: boolean;
  /** The team's keys and channel as the publish script takes them, made once. */
  publishKeys: TeamPublishKeys | undefined;
}

interface TeamPublishKeys {
  seq: string;
  log: string;
  epoch: string;
  floor: string;
  channel: string;
  /** The archive stream its messages join ('' with archiving off). */
  archive: string;
}

/** Messages per publish script call; a larger turn is split, so one call never holds Redis long. */
const MAX_BATCH = 256;

/** The memory engine's words for the same refusal (MemoryBus), so clients see one message. */
const BACKLOG_FULL = () =>
  new AppError('unavailable', 'archive backlog full while the database is down; retry');

const shuttingDown = (): Promise<never> =>
  Promise.reject(new AppError('unavailable', 'shutting down; retry'));

/**
 * A publish waiting for its turn's batch, settled straight from the script's answer
 * (`publish` with its message, its seq set; `publishOnce` with its ack): no promise
 * of their own between, one fewer per message in flight.
 */
type QueuedPublish = {
  teamId: string;
  message: Message;
  reject: (err: unknown) => void;
} & (
  | { ref: undefined; resolve: (message: Message) => void }
  | { ref: string; resolve: (ack: Ack) => void }
);

/**
 * Cross-node fan-out on Redis pub/sub. The publish script assigns the seq, appends
 * to the team's stream and PUBLISHes in one step, so every node sees a team's
 * messages in seq order. Pub/sub drops what is published while a subscriber is
 * disconnected, so each node tracks the last seq it delivered per team and fills
 * any gap from the stream before delivering further.
 *
 * On Redis Cluster every channel is a shard channel (SPUBLISH/SSUBSCRIBE): a
 * message travels only within its team's shard, not over the whole cluster bus,
 * and a turn's batch is one script call per master for the slots it serves
 * (sendToMaster), or per slot where that cannot be (a slot being migrated: the slot's
 * call follows ASK and MOVED).
 */
export class RedisBus implements Bus {
  private readonly listeners: BusListener[] = [];
  private readonly teams = new Map<string, TeamState>();
  private readonly canaries = new Map<string, () => void>();
  private readonly subscriptions = new Map<string, Promise<void>>();
  /** Heads of the teams this node starts to follow, a turn's in one call. */
  private readonly heads: TeamHeads;
  private readonly subscribing: TurnBatch<{ channel: string; current: () => boolean }, void>;
  private readonly unsubscribing: TurnBatch<string, void>;
  private queued: QueuedPublish[] = [];
  private closed = false;
  private readonly nodeChannel: string;
  private readonly clusterChannel: string;
  /** Redis Cluster: sharded pub/sub and one publish script call per slot. */
  private readonly sharded: boolean;
  /** Where publish batches are written: see RedisBusOptions.publisher. */
  private readonly publisher: RedisClient;
  /**
   * Which of the publisher's sockets have run the publish script (script-command.ts).
   * Its text names this node, so no other node loads its hash (see SocketScript).
   */
  private readonly publishScript: SocketScript;
  /** The same, for a call to a whole Redis Cluster master (sendGrouped). */
  private readonly groupedScript: SocketScript;

  constructor(
    private readonly cmd: RedisClient,
    private readonly sub: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RedisBusOptions,
  ) {
    defineScripts(cmd);
    this.heads = new TeamHeads(cmd, keys, options.ttlSeconds, options);
    this.subscribing = new TurnBatch((queued) => this.subscribeChannels(queued));
    this.unsubscribing = new TurnBatch((channels) => this.unsubscribeChannels(channels));
    this.sharded = cmd.isCluster;
    this.publisher = options.publisher ?? cmd;
    this.publishScript = new SocketScript(publishScriptFor(options.nodeId));
    this.groupedScript = new SocketScript(publishGroupedScriptFor(options.nodeId));
    this.nodeChannel = keys.nodeChannel(options.nodeId);
    this.clusterChannel = keys.clusterChannel();
    sub.on(this.sharded ? 'smessage' : 'message', (channel: string, payload: string) =>
      this.onPayload(channel, payload),
    );
    // ioredis resubscribes after a reconnect only to channels whose SUBSCRIBE once
    // succeeded; subscribing on every 'ready' also covers a node that started while
    // Redis was down. What was published meanwhile is fetched from the streams.
    // The refill waits for the SUBSCRIBE to be confirmed: a message published between
    // a refill's read and the subscription would otherwise be lost until the next one.
    let connectedOnce = false;
    sub.on('ready', () => {
      const reconnected = connectedOnce;
      connectedOnce = true;
      void this.subscribeAll().then((subscribed) => {
        if (subscribed && reconnected) this.refillAll();
      });
    });
    if (sub.status === 'ready') {
      connectedOnce = true;
      void this.subscribeAll();
    }
    // On Redis Cluster a slot that moves takes its shard channels with it: the old
    // owner drops their subscribers, and ioredis subscribes again on the new owner
    // once its slot map shows the move (slotsRefreshInterval, connection.ts). What
    // was published in between is fetched from the streams, as after a reconnect.
    sub.on('subscribersReady', () => {
      if (!this.sharded || this.teams.size === 0) return;
      void this.subscribeAll().then((subscribed) => {
        if (subscribed) this.refillAll();
      });
    });
  }

  private async subscribeAll(): Promise<boolean> {
    const channels = [
      this.nodeChannel,
      this.clusterChannel,
      ...[...this.teams.keys()].map((t) => this.keys.teamChannel(t)),
    ];
    try {
      if (this.sharded) await Promise.all(channels.map((c) => this.sub.ssubscribe(c)));
      else await this.sub.subscribe(...channels);
      return true;
    } catch (err) {
      this.options.log.warn({ err }, 'subscribe failed; retried on reconnect');
      return false;
    }
  }

  /**
   * Queues the message for this turn's batch (see the publish script). Batches are
   * written in order on one connection and never resent, so seqs follow the order
   * of the calls. On Redis Cluster a master's call may leave a team to its slot's
   * own call, sent once the answer is in (sendGrouped): a later turn's call to that
   * master finds the slot unserved too, as a later slot call finds it redirected,
   * unless the slot's migration ended in between; the same window as ioredis sending
   * a redirected slot call on behind calls written after it.
   */
  publish(draft: MessageDraft): Promise<Message> {
    if (this.closed) return shuttingDown();
    // The message is this call's own, encoded when its batch was sent: its seq is set
    // in place when the batch answers, no copy needed.
    const message = stampMessage(draft, 0);
    return new Promise((resolve, reject) => {
      this.enqueue({ teamId: draft.teamId, message, ref: undefined, resolve, reject });
    });
  }

  publishOnce(draft: MessageDraft, key: string): Promise<Ack> {
    if (this.closed) return shuttingDown();
    const message = stampMessage(draft, 0);
    return new Promise((resolve, reject) => {
      this.enqueue({ teamId: draft.teamId, message, ref: key, resolve, reject });
    });
  }

  private enqueue(queued: QueuedPublish): void {
    if (this.queued.length === 0) setImmediate(this.sendQueued);
    this.queued.push(queued);
  }

  private readonly sendQueued = (): void => {
    const queued = this.queued;
    this.queued = [];
    // Every batch writes its script call before its first await (sendKnowingOutcome),
    // so the turn's calls leave in one write per connection: see writeTogether.
    writeTogether(this.publisher, () => {
      const publisher = this.publisher;
      if (!this.sharded || !(publisher instanceof Cluster)) {
        this.sendInBatches(queued);
        return;
      }
      const { masters, alone } = byMaster(publisher, this.bySlot(queued));
      for (const group of alone) this.sendInBatches(group);
      for (const [node, groups] of masters) this.sendToMaster(node, groups);
    });
  };

  /** One Redis, or one slot's publishes: MAX_BATCH to a call, in order. */
  private sendInBatches(group: QueuedPublish[]): void {
    for (let i = 0; i < group.length; i += MAX_BATCH) {
      void this.sendBatch(group.slice(i, i + MAX_BATCH));
    }
  }

  /**
   * A master's slot groups of a turn, whole slots to a call of at most MAX_BATCH
   * messages (a slot's are never split over two calls, whose answers could differ),
   * so a turn costs a master one call however many slots its teams are in, where a
   * call per slot was nearly one per message when a turn names many teams. A slot
   * with more goes in its own calls; a call left with one slot is that slot's call.
   */
  private sendToMaster(node: Redis, groups: QueuedPublish[][]): void {
    let call: QueuedPublish[][] = [];
    let size = 0;
    const send = () => {
      if (call.length > 1) void this.sendGrouped(node, call);
      else for (const group of call) this.sendInBatches(group);
      call = [];
      size = 0;
    };
    for (const group of groups) {
      if (group.length > MAX_BATCH) {
        this.sendInBatches(group);
        continue;
      }
      if (size + group.length > MAX_BATCH) send();
      call.push(group);
      size += group.length;
    }
    send();
  }

  /** A turn's publishes per hash slot, each slot's in the order they came. */
  private bySlot(queued: QueuedPublish[]): Map<number, QueuedPublish[]> {
    const slots = new Map<number, QueuedPublish[]>();
    for (const q of queued) {
      const slot = hashSlot(this.keys.seq(q.teamId));
      const group = slots.get(slot);
      if (group) group.push(q);
      else slots.set(slot, [q]);
    }
    return slots;
  }

  /**
   * One publish call for the slot groups of one master, on its connection, with no
   * redirection followed (scripts.ts, GROUPED_LUA). What the master did not run is
   * sent on as its slot's call (sendBatch), which follows ASK and MOVED: each team
   * the master answered `not-here` (its slot is migrating, or not the master's), or
   * every team when Redis refused the call before running it (an error reply other
   * than a failure inside the script: out of memory, READONLY after a failover,
   * LOADING, CLUSTERDOWN) or it could not be written. A call that may have run (no
   * answer) or failed inside the script is never sent again: its messages fail as a
   * slot's call would. Never rejects.
   */
  private async sendGrouped(node: Redis, groups: QueuedPublish[][]): Promise<void> {
    const { ackReplicas = 0, ackTimeoutMs = 0 } = this.options;
    const batch = groups.flat();
    let results: unknown;
    let call: ScriptThenWait | undefined;
    try {
      results = await redisCall(() => {
        call = sendScriptThenWait(
          node,
          this.groupedScript,
          this.batchArgs(batch, true),
          ackReplicas,
          ackTimeoutMs,
        );
        return call.sent;
      });
    } catch (err) {
      if (ranNowhere(err)) for (const group of groups) this.sendInBatches(group);
      else for (const queued of batch) queued.reject(err);
      return;
    }
    if (this.options.archive === true)
      for (const group of groups) {
        const first = group[0];
        if (first) this.options.onArchived?.(this.archiveOf(first.teamId));
      }
    const notReplicated = await call?.replicated();
    const reply = new PublishReply(results);
    for (const group of groups) {
      let elsewhere: QueuedPublish[] | undefined;
      for (const queued of group) {
        const answer = reply.next();
        if (answer === 'not-here') (elsewhere ??= []).push(queued);
        else this.settle(queued, answer, reply, notReplicated);
      }
      if (elsewhere) this.sendInBatches(elsewhere);
    }
  }

  /** Never rejects: every queued publish is settled, whatever fails. */
  private async sendBatch(batch: QueuedPublish[]): Promise<void> {
    const { ackReplicas = 0, ackTimeoutMs = 0 } = this.options;
    let results: unknown;
    let call: ScriptThenWait | undefined;
    /** Redis Cluster: the node connection that ran the script (after any redirection). */
    let writtenTo: object | undefined;
    try {
      // sendKnowingOutcome answers `unavailable` only when Redis surely did not run the
      // batch, otherwise `indeterminate`; redisCall maps what fails before it sends.
      results = await redisCall(() => {
        const publisher = this.publisher;
        const args = this.batchArgs(batch);
        if (!(publisher instanceof Cluster)) {
          // One WAIT per batch, behind the script: it covers every message in it.
          call = sendScriptThenWait(publisher, this.publishScript, args, ackReplicas, ackTimeoutMs);
          return call.sent;
        }
        return sendScriptKnowingOutcome(publisher, this.publishScript, args, {
          onWrite: ackReplicas > 0 ? (socket) => (writtenTo = socket) : undefined,
        });
      });
    } catch (err) {
      for (const queued of batch) queued.reject(err);
      return;
    }
    const first = batch[0];
    if (this.options.archive === true && first)
      this.options.onArchived?.(this.archiveOf(first.teamId));
    // On a cluster the node that runs the script is known only once it has answered.
    const notReplicated = await (ackReplicas > 0 && this.publisher instanceof Cluster
      ? waitOnWritingConnection(this.publisher, writtenTo, ackReplicas, ackTimeoutMs)
      : call?.replicated());
    // Read in place, one message after the other: no object per message (publish-reply.ts).
    const reply = new PublishReply(results);
    for (const queued of batch) this.settle(queued, reply.next(), reply, notReplicated);
  }

  /** Settles a publish from its answer in the script's reply (`reply` just read it). */
  private settle(
    queued: QueuedPublish,
    answer: PublishAnswer,
    reply: PublishReply,
    notReplicated: AppError | undefined,
  ): void {
    if (answer === 'published' || answer === 'repeated') {
      if (notReplicated) queued.reject(notReplicated);
      else if (queued.ref === undefined) {
        // A repeated ref comes only with a ref.
        if (answer === 'published') {
          queued.message.seq = reply.seq;
          queued.resolve(queued.message);
        } else this.refused(queued, reply.text());
      } else {
        // A new object, not the message: an ack carries the id and seq only.
        queued.resolve(
          answer === 'published'
            ? { id: queued.message.id, seq: reply.seq }
            : decodeRefRecord(reply.text()),
        );
      }
      return;
    }
    if (answer === 'backlog-full') {
      queued.reject(BACKLOG_FULL());
      return;
    }
    this.refused(queued, reply.text());
  }

  /**
   * Redis refused one of the message's commands (a key of the wrong type, say): not
   * an outage, so it is worth an operator's look.
   */
  private refused(queued: QueuedPublish, answer: string): void {
    this.options.log.error({ teamId: queued.teamId, answer }, 'publish script refused a message');
    queued.reject(redisUnavailable(new Error('publish refused by Redis')));
  }

  /**
   * Sha, numkeys, KEYS and ARGV of the publish script for a batch, in one array:
   * thousands of arguments per batch, so they are written in place, not spread. A
   * team's keys and channel go once per batch, however many of its messages it holds.
   */
  private batchArgs(batch: QueuedPublish[], grouped = false): (string | number)[] {
    const { retain, ttlSeconds, idempotencyTtlSeconds, archive, archiveBacklogMax } = this.options;
    const teams = new Map<string, number>();
    let refs = 0;
    for (const { teamId, ref } of batch) {
      if (!teams.has(teamId)) teams.set(teamId, teams.size);
      if (ref !== undefined) refs++;
    }
    const numKeys = teams.size * (archive === true ? 5 : 4) + refs;
    // A call for a whole master declares no keys: they lead ARGV (scripts.ts, GROUPED_LUA).
    const args: (string | number)[] = grouped
      ? [this.groupedScript.sha, 0, numKeys]
      : [this.publishScript.sha, numKeys];
    for (const teamId of teams.keys()) {
      const keys = this.publishKeys(teamId);
      args.push(keys.seq, keys.log, keys.epoch, keys.floor);
      if (archive === true) args.push(keys.archive);
    }
    for (const { teamId, ref } of batch)
      if (ref !== undefined) args.push(this.keys.ref(teamId, ref));
    args.push(
      retain,
      ttlSeconds,
      idempotencyTtlSeconds,
      archive === true ? '1' : '0',
      archiveBacklogMax ?? 0,
      this.sharded ? '1' : '0',
      teams.size,
    );
    for (const teamId of teams.keys()) {
      const known = this.teams.get(teamId);
      args.push(
        this.publishKeys(teamId).channel,
        // What this node has seen of the team lets the script notice Redis going back.
        known?.epoch ?? '',
        known?.last ?? 0,
      );
    }
    for (const queued of batch) {
      const team = teams.get(queued.teamId) ?? 0;
      // With a ref: -1 - the index, and the message takes the next ref key.
      args.push(queued.ref === undefined ? team : -1 - team);
      pushMessageArgs(args, queued.message);
    }
    return args;
  }

  /** Kept on the team's state while the node follows it; made afresh for other teams. */
  private publishKeys(teamId: string): TeamPublishKeys {
    const state = this.teams.get(teamId);
    if (state?.publishKeys) return state.publishKeys;
    const keys = {
      seq: this.keys.seq(teamId),
      log: this.keys.log(teamId),
      epoch: this.keys.epoch(teamId),
      floor: this.keys.epochFloor(teamId),
      channel: this.keys.teamChannel(teamId),
      archive: this.options.archive === true ? this.archiveOf(teamId) : '',
    };
    if (state) state.publishKeys = keys;
    return keys;
  }

  /** The backlog a team's messages join: on Redis Cluster its slot's (a batch is one slot's). */
  private archiveOf(teamId: string): string {
    return this.sharded
      ? this.keys.slotArchive(hashSlot(this.keys.seq(teamId)))
      : this.keys.archive();
  }

  async emit(event: ClusterEvent): Promise<void> {
    const channel =
      event.kind === 'kick'
        ? this.keys.nodeChannel(event.node)
        : event.kind === 'ban' || event.kind === 'unban'
          ? this.clusterChannel
          : this.keys.teamChannel(event.teamId);
    await redisCall(() => this.send(channel, encodeEvent(event)));
  }

  private send(channel: string, payload: string): Promise<unknown> {
    return this.sharded ? this.cmd.spublish(channel, payload) : this.cmd.publish(channel, payload);
  }

  /**
   * Every connection of a team awaits this, not only the first: until SUBSCRIBE is
   * confirmed nothing published reaches the node, so a connection that read its
   * head before that could miss messages.
   */
  async subscribe(teamId: string): Promise<void> {
    let pending = this.subscriptions.get(teamId);
    if (!pending) {
      const started: Promise<void> = this.start(
        teamId,
        () => this.subscriptions.get(teamId) === started,
      );
      pending = started;
      this.subscriptions.set(teamId, started);
      started.catch(() => {
        if (this.subscriptions.get(teamId) === started) this.subscriptions.delete(teamId);
      });
    }
    await redisCall(() => pending);
  }

  /**
   * Reads the team's head, then subscribes: see TeamState.last. `current` is false
   * once an unsubscribe came while the head was read: subscribing after its
   * UNSUBSCRIBE would keep the channel, and the team's refills, with no one to serve.
   * The teams a turn starts share one head read and one SUBSCRIBE, still in that order.
   */
  private async start(teamId: string, current: () => boolean): Promise<void> {
    const { seq, epoch } = await this.heads.read(teamId);
    if (!current()) return;
    if (!this.teams.has(teamId))
      this.teams.set(teamId, {
        last: seq,
        epoch,
        waiting: undefined,
        again: false,
        publishKeys: undefined,
      });
    await this.subscribing.add({ channel: this.keys.teamChannel(teamId), current });
  }

  /**
   * One SUBSCRIBE for the channels of a turn's new teams (on Redis Cluster one
   * SSUBSCRIBE per slot: a shard channel lives in its slot). A team unsubscribed
   * since it was queued is left out: its UNSUBSCRIBE is sent, or queued to be.
   */
  private async subscribeChannels(
    queued: { channel: string; current: () => boolean }[],
  ): Promise<ItemResult<void>[]> {
    const channels = queued.filter((q) => q.current()).map((q) => q.channel);
    const failed = await this.perSlot(channels, (group) =>
      this.sharded ? this.sub.ssubscribe(...group) : this.sub.subscribe(...group),
    );
    return queued.map(({ channel }) =>
      failed.has(channel)
        ? { ok: false, error: failed.get(channel) }
        : { ok: true, value: undefined },
    );
  }

  /**
   * Runs a (un)subscribe command for the channels: all in one on one Redis, one per
   * slot on Redis Cluster. Returns the failure of each channel whose command failed.
   */
  private async perSlot(
    channels: string[],
    command: (group: string[]) => Promise<unknown>,
  ): Promise<Map<string, unknown>> {
    const failed = new Map<string, unknown>();
    if (channels.length === 0) return failed;
    const slots = new Map<number, string[]>();
    for (const channel of channels) {
      const slot = this.sharded ? hashSlot(channel) : 0;
      const group = slots.get(slot);
      if (group) group.push(channel);
      else slots.set(slot, [channel]);
    }
    await Promise.all(
      [...slots.values()].map((group) =>
        command(group).catch((error: unknown) => {
          for (const channel of group) failed.set(channel, error);
        }),
      ),
    );
    return failed;
  }

  /**
   * The teams a turn leaves share one UNSUBSCRIBE (one SUNSUBSCRIBE per slot on
   * Redis Cluster). It is sent before any SUBSCRIBE of a team started again
   * meanwhile: that one waits for its head read, sent in the same turn at the soonest.
   */
  async unsubscribe(teamId: string): Promise<void> {
    this.subscriptions.delete(teamId);
    this.teams.delete(teamId);
    await redisCall(() => this.unsubscribing.add(this.keys.teamChannel(teamId)));
  }

  private async unsubscribeChannels(channels: string[]): Promise<ItemResult<void>[]> {
    const failed = await this.perSlot(channels, (group) =>
      this.sharded ? this.sub.sunsubscribe(...group) : this.sub.unsubscribe(...group),
    );
    return channels.map((channel) =>
      failed.has(channel)
        ? { ok: false, error: failed.get(channel) }
        : { ok: true, value: undefined },
    );
  }

  listen(listener: BusListener): void {
    this.listeners.push(listener);
  }

  /**
   * Proves the whole path: PUBLISH on the command connection comes back on the
   * subscriber. A subscriber that silently stopped receiving fails this.
   */
  async probe(timeoutMs: number): Promise<boolean> {
    const nonce = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<boolean>((resolve) => {
      this.canaries.set(nonce, () => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      await this.send(this.nodeChannel, encodeCanary(nonce));
      return await seen;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      this.canaries.delete(nonce);
    }
  }

  private onPayload(channel: string, payload: string): void {
    if (this.closed) return;
    if (channel === this.nodeChannel) {
      const signal = decodeNodePayload(this.options.nodeId, payload);
      if (signal?.kind === 'kick') this.toListeners(signal);
      else if (signal?.kind === 'canary') this.canaries.get(signal.nonce)?.();
      return;
    }
    if (channel === this.clusterChannel) {
      try {
        const event = decodeClusterPayload(payload);
        if (event) this.toListeners(event);
      } catch (err) {
        this.options.log.error({ err, channel }, 'bad payload on the cluster channel');
      }
      return;
    }
    const teamId = this.keys.teamFromChannel(channel);
    if (teamId === undefined) return;
    const state = this.teams.get(teamId);
    if (!state) return;
    try {
      const decoded = decodeTeamPayload(teamId, payload);
      if (decoded === undefined) return;
      if (Array.isArray(decoded))
        for (const message of decoded) this.receive(teamId, state, message);
      else if ('event' in decoded) this.toListeners(decoded.event);
      else this.receive(teamId, state, decoded);
    } catch (err) {
      this.options.log.error({ err, channel }, 'bad payload on a team channel');
    }
  }

  private receive(teamId: string, state: TeamState, message: Delivery): void {
    if (state.waiting) {
      state.waiting.push(message);
      return;
    }
    if (message.epoch !== state.epoch) {
      // From before a reset this node already follows: its connections were told.
      if (!isNewerEpoch(message.epoch, state.epoch)) return;
      // Redis lost the history: seqs restart, anything from 1 is new.
      state.epoch = message.epoch;
      state.last = 0;
    }
    if (message.seq <= state.last) return;
    if (message.seq > state.last + 1) {
      state.waiting = [message];
      void this.refill(teamId, state);
      return;
    }
    this.deliver(state, message);
  }

  private deliver(state: TeamState, message: Delivery): void {
    state.last = message.seq;
    for (const listener of this.listeners) {
      try {
        listener.message(message);
      } catch (err) {
        this.options.log.error({ err }, 'delivery failed');
      }
    }
  }

  private toListeners(event: ClusterEvent): void {
    for (const listener of this.listeners) {
      try {
        listener.event(event);
      } catch (err) {
        this.options.log.error({ err }, 'event delivery failed');
      }
    }
  }

  private refillAll(): void {
    this.options.log.warn(
      { teams: this.teams.size },
      'subscriber reconnected; filling what pub/sub dropped from the streams',
    );
    for (const [teamId, state] of this.teams) {
      // A refill under way may have read before this drop: it reads again when done.
      if (state.waiting) {
        state.again = true;
        continue;
      }
      state.waiting = [];
      void this.refill(teamId, state);
    }
  }

  /**
   * Fetches what pub/sub dropped after `state.last`, then releases the waiting
   * messages. What the stream no longer holds is a gap the connections are told of.
   */
  private async refill(teamId: string, state: TeamState): Promise<void> {
    for (let attempt = 0; !this.closed && this.teams.get(teamId) === state; attempt++) {
      try {
        state.again = false;
        const { missed, counter } = await this.missedSince(teamId, state);
        if (state.again) continue;
        const waiting = state.waiting ?? [];
        state.waiting = undefined;
        const current = [...missed, ...waiting.filter((m) => m.epoch === state.epoch)].sort(
          (a, b) => a.seq - b.seq,
        );
        for (const message of current) {
          if (message.seq <= state.last) continue;
          if (message.seq > state.last + 1) this.lost(teamId, state, message.seq - 1);
          this.deliver(state, message);
        }
        // The counter is past what the stream and pub/sub gave (the log evicted): say so
        // now, not when the team's next message happens to come.
        if (counter > state.last) this.lost(teamId, state, counter);
        if (missed.length > 0) {
          this.options.log.warn(
            { teamId, missed: missed.length },
            'filled a pub/sub gap from the stream',
          );
        }
        // Published after the read, in an epoch newer than the one it saw: live again.
        for (const message of waiting)
          if (message.epoch !== state.epoch && isNewerEpoch(message.epoch, state.epoch))
            this.receive(teamId, state, message);
        return;
      } catch (err) {
        if (attempt === 0) this.options.log.warn({ err, teamId }, 'gap fill failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  /** Messages of the team up to `seq` can no longer be had: listeners tell their connections. */
  private lost(teamId: string, state: TeamState, seq: number): void {
    this.options.log.warn(
      { teamId, epoch: state.epoch, from: state.last + 1, to: seq },
      'messages dropped by pub/sub are no longer in the stream; connections are told',
    );
    state.last = seq;
    for (const listener of this.listeners) {
      try {
        listener.gap(teamId, state.epoch, seq);
      } catch (err) {
        this.options.log.error({ err }, 'gap notice failed');
      }
    }
  }

  /**
   * Stream entries after `state.last` (all of them when the epoch changed meanwhile),
   * and the team's counter in `state.epoch` as read with them.
   */
  private async missedSince(
    teamId: string,
    state: TeamState,
  ): Promise<{ missed: Delivery[]; counter: number }> {
    const replies = await execAll(
      this.cmd
        .multi()
        .get(this.keys.epoch(teamId))
        .get(this.keys.seq(teamId))
        .xrange(this.keys.log(teamId), `${state.last + 1}-0`, '+'),
    );
    let epoch = replies[0] as string | null;
    const counter = replies[1] as string | null;
    let entries = replies[2] as StreamEntry[];
    if (epoch === state.epoch && counter !== null && Number(counter) < state.last) {
      this.options.log.error(
        { teamId, epoch, delivered: state.last, counter: Number(counter) },
        'Redis lost acknowledged messages (its counter went back); the team starts a new epoch',
      );
      [, epoch] = await this.cmd.sbRewound(
        ...headKeys(this.keys, teamId),
        state.epoch,
        state.last,
        this.options.ttlSeconds,
      );
    }
    let seq = counter === null ? 0 : Number(counter);
    if (epoch !== null && epoch !== state.epoch && isNewerEpoch(epoch, state.epoch)) {
      // Redis lost the history since we last looked: seqs restarted, everything retained is new.
      state.epoch = epoch;
      state.last = 0;
      const again = await execAll(
        this.cmd.multi().get(this.keys.seq(teamId)).xrange(this.keys.log(teamId), '-', '+'),
      );
      const head = again[0] as string | null;
      entries = again[1] as StreamEntry[];
      seq = head === null ? 0 : Number(head);
    } else if (epoch !== state.epoch) {
      // The epoch key is gone (a new epoch will start): the counter is not this epoch's.
      seq = 0;
    }
    return {
      missed: entries.map((entry) => toDelivery(decodeLogEntry(entry), state.epoch)),
      counter: Number.isSafeInteger(seq) ? seq : 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.length = 0;
    this.teams.clear();
  }
}

/**
 * Whether a failed call for a whole master surely ran nowhere, so its messages may be
 * sent as their slots' calls: `unavailable` (never written, or Redis answered with
 * an error) unless the error came from inside the script, after it may have
 * written (Redis names the script in such errors).
 */
function ranNowhere(err: unknown): boolean {
  if (!(err instanceof AppError) || err.code !== 'unavailable') return false;
  const cause = err.cause;
  return !(cause instanceof RedisReplyError) || !/user_script|script:/.test(cause.message);
}
