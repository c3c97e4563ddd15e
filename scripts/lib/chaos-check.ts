/**
 * The checker of `npm run chaos`: it judges what clients saw against what they
 * sent, from the client side only (Jepsen style), so it needs nothing from the
 * server but the frames. Times are `Date.now()` of the one process that ran every
 * client, so they share a clock.
 *
 * Definitions (the promise of docs/PROTOCOL.md §5 and §6, made checkable):
 *
 * - Believed epoch: the epoch a client holds at a moment: its first welcome's,
 *   then the one each notice moves it to. Message frames carry no epoch, so a
 *   message belongs, for the client, to the epoch it believes when it arrives; an
 *   ack belongs to the epoch its sender believes when the ack arrives. A server
 *   that resets a team's history without telling a client makes that belief
 *   wrong, and the checks below then see two ids at one (epoch, seq): exactly what
 *   a client's duplicate filter, keyed on (epoch, seq) as the protocol asks, would
 *   turn into a silent loss.
 *
 * - Notice: an `epoch` frame, or `resumed` with `complete:false`. A notice moves
 *   the client from epoch A (believed just before it, last seq L in it) to epoch B
 *   (the `epoch` frame's, or the welcome's of the connection the `resumed` ends)
 *   from seq S on (the frame's `seq`). A `resumed` with `complete:true` is no
 *   notice: it promises that nothing after `since` was left out.
 *
 * - An acked message's epoch: the one its sender believed at the ack, unless no
 *   receiver put the message there; then the one most receivers believed when it
 *   reached them (the protocol sends the epoch frame before any message of the
 *   new epoch, while an ack may overtake it).
 *
 * - Covered by a notice: an acked message m (epoch E, seq s, first sent at t) is
 *   covered by a notice N that client C received at time n when t ≤ n (m may
 *   have been stored before the server made N) and:
 *     A = B (history trimmed, same epoch): E = A and L < s ≤ S;
 *     A ≠ B: s ≤ S (the new epoch up to where C resumes: when a reset went
 *       unannounced to others, E may name the old epoch for a message of the
 *       new one), or E = A and s > L (the old epoch's tail C had not got), or E
 *       is neither A nor B (an epoch that began and ended while C was away).
 *   Being lenient here hides nothing: a message C missed inside a stream it
 *   kept following shows as skipped seqs whatever any notice covers.
 *
 * - Followed: C followed its team across m when C's first welcome arrived before
 *   m was first sent. The welcome's head was read before it was sent, so m was
 *   stored after that head and C must get it. Clients never leave a team: every
 *   reconnect resumes with since/epoch, so following lasts to the end of the run.
 *
 * What is counted (per client stream, in arrival order, within a believed epoch):
 * - duplicated: a message id a client received twice.
 * - reordered: a seq not above the last one, within the epoch as the client
 *   follows it. It is a reset instead (a silent gap, below) when that (epoch,
 *   seq) holds another id anywhere, when the seq is not above where the client
 *   began following the epoch, or when the message's sender was acked for it in
 *   another epoch: then the client's epoch is what is wrong, not the order.
 * - silent gaps: a seq more than one above the last, with no notice between (a
 *   seq the client's own ack holds in that epoch is no gap: senders do not get
 *   their own messages); a
 *   seq not above the last whose (epoch, seq) holds another id somewhere (the
 *   team's history was reset and the client was not told); a final sync that
 *   finds the team in an epoch that holds messages and that the client was never
 *   moved to, or messages after
 *   the client's last seq in its epoch that it never received (the tail).
 * - lost: (acked message, teammate that followed across it) pairs where the
 *   teammate never received it and no notice covers it; plus acked messages
 *   missing from the final history of the epoch they were acked in.
 * - notified: pairs a notice covers (told, so allowed).
 * - unsent: a delivered or stored message whose data matches no send of the
 *   sender it names.
 * - ref conflicts: a ref seen with two ids or two seqs in one believed epoch;
 *   across epochs it is a ref reissued (its idempotency record went with the
 *   history), reported apart.
 * - seq conflicts: two ids at one (team, believed epoch, seq), acks and
 *   deliveries of every client together.
 * - unavailable but stored: a ref whose every attempt was answered `unavailable`
 *   (docs/PROTOCOL.md §3: not stored), none acked or `indeterminate`, although its
 *   message was stored by then (its id reached someone, or a later seq of its
 *   epoch was acked).
 */

export interface SendRecord {
  ref: string;
  /** The payload as sent; it names the sender and a counter. */
  data: unknown;
  firstSentAt: number;
  /** Times it went out again with the same ref. */
  resends: number;
  /** When each attempt was written (the first included); absent in hand-made timelines. */
  writtenAt?: number[];
}

export interface AckRecord {
  ref: string;
  id: string;
  seq: number;
  /** The epoch the sender believed when the ack arrived. */
  epoch: string;
  at: number;
}

export interface DeliveredMessage {
  id: string;
  seq: number;
  from: string;
  data: unknown;
}

export type Observation =
  | { kind: 'welcome'; at: number; epoch: string; seq: number }
  | { kind: 'resumed'; at: number; since: number; seq: number; complete: boolean }
  | { kind: 'epoch'; at: number; epoch: string; seq: number }
  | ({ kind: 'message'; at: number } & DeliveredMessage)
  /** The socket closed (close code; 1006 when it just dropped). Only for a reader. */
  | { kind: 'closed'; at: number; code: number };

export interface ClientRecord {
  id: string;
  team: string;
  sends: SendRecord[];
  /** Every ack received, repeats included. */
  acks: AckRecord[];
  observations: Observation[];
  /** error frames answered `indeterminate`. */
  indeterminate: number;
  /** error frames that answered a send (they carry its ref). */
  answers?: { ref: string; code: string; at: number }[];
}

/** A team as the final sync round read it: its epoch, head and whole retained history. */
export interface FinalTeam {
  team: string;
  epoch: string;
  head: number;
  messages: DeliveredMessage[];
}

export interface Timeline {
  clients: ClientRecord[];
  finals: FinalTeam[];
}

export type FindingKind =
  | 'duplicate'
  | 'reorder'
  | 'silent-gap'
  | 'silent-reset'
  | 'unannounced-epoch'
  | 'tail-gap'
  | 'lost'
  | 'lost-from-store'
  | 'unsent'
  | 'ref-conflict'
  | 'seq-conflict'
  | 'unavailable-but-stored';

export interface Finding {
  kind: FindingKind;
  client?: string;
  team: string;
  detail: string;
}

export interface CheckResult {
  sent: number;
  acked: number;
  delivered: number;
  unacked: number;
  resends: number;
  indeterminate: number;
  notices: { epoch: number; incompleteResume: number };
  lost: number;
  lostFromStore: number;
  duplicated: number;
  reordered: number;
  silentGaps: number;
  /** silentGaps by what showed them. */
  silent: { skipped: number; reset: number; unannouncedEpoch: number; tail: number };
  notifiedGaps: number;
  unsent: number;
  refConflicts: number;
  refsReissued: number;
  seqConflicts: number;
  /** Refs answered only `unavailable` (not stored) by the time their message provably was. */
  unavailableButStored: number;
  /** The first findings of each kind, for a reader. */
  findings: Finding[];
}

export interface Notice {
  at: number;
  from: string;
  last: number;
  to: string;
  start: number;
}

interface Scan {
  client: ClientRecord;
  epoch: string | undefined;
  last: number;
  /** The seq the client began following its current epoch after (welcome or notice). */
  start: number;
  followFrom: number;
  received: Map<string, number>;
  notices: Notice[];
}

const FINDINGS_PER_KIND = 20;

const key = (...parts: (string | number)[]) => parts.join('\u0000');

/** Canonical text of a payload, so equal data compares equal whatever the key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

export function coveredBy(n: Notice, m: { epoch: string; seq: number; sentAt: number }): boolean {
  if (m.sentAt > n.at) return false;
  if (n.from === n.to) return m.epoch === n.from && m.seq > n.last && m.seq <= n.start;
  if (m.epoch === n.from) return m.seq > n.last || m.seq <= n.start;
  return m.epoch !== n.to || m.seq <= n.start;
}

export function check(timeline: Timeline): CheckResult {
  // An ack may arrive before the epoch frame that announces its epoch (they travel on
  // different Redis connections): when no receiver put the message in the epoch its
  // sender believed, it belongs to the epoch most receivers put it in.
  const placed = new Map<string, Map<string, number>>();
  for (const client of timeline.clients)
    walkEpochs(client, (epoch, o) => {
      const votes = placed.get(o.id) ?? new Map<string, number>();
      votes.set(epoch, (votes.get(epoch) ?? 0) + 1);
      placed.set(o.id, votes);
    });
  const epochOf = (a: AckRecord): string => {
    const votes = placed.get(a.id);
    if (!votes || votes.has(a.epoch)) return a.epoch;
    return [...votes].sort((x, y) => y[1] - x[1])[0]![0];
  };
  const clients = timeline.clients.map((c) => ({
    ...c,
    acks: c.acks.map((a) => ({ ...a, epoch: epochOf(a) })),
  }));
  const findings: Finding[] = [];
  const perKind = new Map<FindingKind, number>();
  const note = (f: Finding) => {
    const n = perKind.get(f.kind) ?? 0;
    perKind.set(f.kind, n + 1);
    if (n < FINDINGS_PER_KIND) findings.push(f);
  };
  const count = (kind: FindingKind) => perKind.get(kind) ?? 0;

  // Every send, by the sender and data it carries.
  const sendByData = new Map<string, { client: ClientRecord; send: SendRecord }>();
  for (const client of clients)
    for (const send of client.sends)
      sendByData.set(key(client.id, canonical(send.data)), { client, send });

  // Pass 1: believed epochs of every delivery and ack, for the global (team, epoch, seq) map.
  const idsAt = new Map<string, Set<string>>();
  const place = (team: string, epoch: string, seq: number, id: string) => {
    const k = key(team, epoch, seq);
    let ids = idsAt.get(k);
    if (!ids) idsAt.set(k, (ids = new Set()));
    ids.add(id);
  };
  const scans = clients.map((client) => scanEpochs(client, place));
  const ackEpoch = new Map<string, string>();
  for (const client of clients) for (const a of client.acks) ackEpoch.set(a.id, a.epoch);

  // Pass 2: each stream in order.
  let delivered = 0;
  let notifiedGaps = 0;
  const refSeen = new Map<string, { id: string; epoch: string; seq: number }[]>();
  const seeRef = (ref: string, id: string, epoch: string, seq: number) => {
    const list = refSeen.get(ref) ?? [];
    if (!list.some((x) => x.id === id && x.epoch === epoch && x.seq === seq))
      list.push({ id, epoch, seq });
    refSeen.set(ref, list);
  };
  for (const scan of scans) {
    const { client } = scan;
    const team = client.team;
    let welcome: { epoch: string; seq: number } | undefined;
    const atSeq = new Map<string, string>();
    // Its own acks, in the epoch it believed and in the one the receivers place them in.
    const raw = timeline.clients.find((c) => c.id === client.id)?.acks ?? [];
    const own = new Set([...client.acks, ...raw].map((a) => key(a.epoch, a.seq)));
    for (const o of client.observations) {
      if (o.kind === 'welcome') {
        if (scan.epoch === undefined) {
          scan.epoch = o.epoch;
          scan.last = o.seq;
          scan.start = o.seq;
          scan.followFrom = o.at;
        } else {
          welcome = o;
        }
      } else if (o.kind === 'resumed') {
        const w = welcome;
        welcome = undefined;
        if (!w || scan.epoch === undefined) continue;
        if (o.complete) {
          if (w.epoch !== scan.epoch) {
            note({
              kind: 'silent-reset',
              client: client.id,
              team,
              detail: `resumed complete:true from epoch ${scan.epoch} into epoch ${w.epoch}`,
            });
            moveTo(scan, w.epoch, o.seq);
          }
          continue;
        }
        scan.notices.push({
          at: o.at,
          from: scan.epoch,
          last: o.since,
          to: w.epoch,
          start: o.seq,
        });
        const sameEpoch = w.epoch === scan.epoch;
        moveTo(scan, w.epoch, sameEpoch ? Math.max(scan.last, o.seq) : o.seq);
      } else if (o.kind === 'epoch') {
        if (scan.epoch === undefined) continue;
        scan.notices.push({
          at: o.at,
          from: scan.epoch,
          last: scan.last,
          to: o.epoch,
          start: o.seq,
        });
        moveTo(scan, o.epoch, o.seq);
      } else if (o.kind === 'message') {
        delivered++;
        if (scan.epoch === undefined) continue;
        const epoch = scan.epoch;
        const origin = sendByData.get(key(o.from, canonical(o.data)));
        if (!origin || origin.client.team !== team) {
          note({
            kind: 'unsent',
            client: client.id,
            team,
            detail: `${o.id} seq ${o.seq} from ${o.from}: ${canonical(o.data)}${origin ? ` (sent in ${origin.client.team})` : ''}`,
          });
        } else {
          seeRef(origin.send.ref, o.id, epoch, o.seq);
        }
        if (scan.received.has(o.id)) {
          note({
            kind: 'duplicate',
            client: client.id,
            team,
            detail: `${o.id} (seq ${o.seq}) received again`,
          });
          continue;
        }
        scan.received.set(o.id, o.seq);
        const here = key(epoch, o.seq);
        const other = atSeq.get(here);
        atSeq.set(here, o.id);
        if (o.seq <= scan.last) {
          const elsewhere = [...(idsAt.get(key(team, epoch, o.seq)) ?? [])].some(
            (id) => id !== o.id,
          );
          const ackedIn = ackEpoch.get(o.id);
          const reset =
            (other !== undefined && other !== o.id) ||
            elsewhere ||
            o.seq <= scan.start ||
            (ackedIn !== undefined && ackedIn !== epoch);
          if (reset) {
            note({
              kind: 'silent-reset',
              client: client.id,
              team,
              detail: `seq ${o.seq} (${o.id}) after seq ${scan.last} in epoch ${epoch}, which holds another id there: the history was reset without a notice`,
            });
            scan.last = o.seq;
          } else {
            note({
              kind: 'reorder',
              client: client.id,
              team,
              detail: `seq ${o.seq} (${o.id}) after seq ${scan.last} in epoch ${epoch}`,
            });
          }
          continue;
        }
        // A sender does not get its own messages back: its acked seqs are no gap.
        let skipped = 0;
        for (let seq = scan.last + 1; seq < o.seq; seq++) if (!own.has(key(epoch, seq))) skipped++;
        if (skipped > 0) {
          note({
            kind: 'silent-gap',
            client: client.id,
            team,
            detail: `${skipped} seq(s) in ${scan.last + 1}..${o.seq - 1} of epoch ${epoch} skipped, no notice`,
          });
        }
        scan.last = o.seq;
      }
    }
  }

  // Acks: one id and one seq per ref; the first ack of each ref is the message.
  let acked = 0;
  let unacked = 0;
  let resends = 0;
  let indeterminate = 0;
  let sent = 0;
  const firstAcks: { client: ClientRecord; ack: AckRecord; send: SendRecord }[] = [];
  for (const client of clients) {
    indeterminate += client.indeterminate;
    const byRef = new Map<string, AckRecord>();
    for (const ack of client.acks) {
      seeRef(ack.ref, ack.id, ack.epoch, ack.seq);
      if (!byRef.has(ack.ref)) byRef.set(ack.ref, ack);
    }
    for (const send of client.sends) {
      sent++;
      resends += send.resends;
      const ack = byRef.get(send.ref);
      if (ack) {
        acked++;
        firstAcks.push({ client, ack, send });
      } else {
        unacked++;
      }
    }
  }
  let refsReissued = 0;
  for (const [ref, seen] of refSeen) {
    const ids = new Set(seen.map((s) => s.id));
    const perEpoch = new Map<string, Set<string>>();
    for (const s of seen) {
      const set = perEpoch.get(s.epoch) ?? new Set<string>();
      set.add(`${s.id}@${s.seq}`);
      perEpoch.set(s.epoch, set);
    }
    if ([...perEpoch.values()].some((s) => s.size > 1)) {
      note({
        kind: 'ref-conflict',
        team: '',
        detail: `ref ${ref}: ${seen.map((s) => `${s.id} seq ${s.seq} epoch ${s.epoch}`).join('; ')}`,
      });
    } else if (ids.size > 1) {
      refsReissued++;
    }
  }

  // Two ids at one (team, believed epoch, seq), acks included.
  for (const [k, ids] of idsAt) {
    if (ids.size < 2) continue;
    const [team, epoch, seq] = k.split('\u0000');
    note({
      kind: 'seq-conflict',
      team: team!,
      detail: `epoch ${epoch} seq ${seq}: ${[...ids].join(', ')}`,
    });
  }

  // Every acked message to every teammate that followed across it, or a notice.
  const byTeam = new Map<string, Scan[]>();
  for (const scan of scans) {
    const list = byTeam.get(scan.client.team) ?? [];
    list.push(scan);
    byTeam.set(scan.client.team, list);
  }
  for (const { client, ack, send } of firstAcks) {
    for (const mate of byTeam.get(client.team) ?? []) {
      if (mate.client === client || !(mate.followFrom < send.firstSentAt)) continue;
      if (mate.received.has(ack.id)) continue;
      const m = { epoch: ack.epoch, seq: ack.seq, sentAt: send.firstSentAt };
      if (mate.notices.some((n) => coveredBy(n, m))) {
        notifiedGaps++;
        continue;
      }
      note({
        kind: 'lost',
        client: mate.client.id,
        team: client.team,
        detail: `${ack.id} (ref ${ack.ref}, seq ${ack.seq} epoch ${ack.epoch}) from ${client.id} never arrived, no notice covers it`,
      });
    }
  }

  // `unavailable` says the message was not stored. It was stored by the time P its id
  // reached anyone, or a later seq of its epoch was acked; if every attempt written
  // before P was answered `unavailable` (none acked, none `indeterminate`), one of
  // those answers was false.
  const teamAcks = new Map<string, AckRecord[]>();
  for (const client of clients)
    teamAcks.set(client.team, [...(teamAcks.get(client.team) ?? []), ...client.acks]);
  const firstSeen = new Map<string, number>();
  for (const client of clients)
    for (const o of client.observations)
      if (o.kind === 'message' && !(o.at >= (firstSeen.get(o.id) ?? Infinity)))
        firstSeen.set(o.id, o.at);
  for (const { client, ack, send } of firstAcks) {
    const answers = (client.answers ?? []).filter((a) => a.ref === send.ref);
    if (!answers.some((a) => a.code === 'unavailable')) continue;
    const laterAck = (teamAcks.get(client.team) ?? [])
      .filter((a) => a.epoch === ack.epoch && a.seq > ack.seq)
      .reduce((min, a) => Math.min(min, a.at), Infinity);
    const stored = Math.min(firstSeen.get(ack.id) ?? Infinity, laterAck);
    const attempts = (send.writtenAt ?? []).filter((w) => w <= stored);
    const answered = answers.filter((a) => a.at < stored);
    const acked = client.acks.some((a) => a.ref === send.ref && a.at < stored);
    if (
      stored < Infinity &&
      attempts.length > 0 &&
      !acked &&
      answered.length >= attempts.length &&
      answered.every((a) => a.code === 'unavailable')
    )
      note({
        kind: 'unavailable-but-stored',
        client: client.id,
        team: client.team,
        detail: `ref ${send.ref}: all ${attempts.length} attempt(s) answered unavailable, yet ${ack.id} (seq ${ack.seq}) was stored by ${stored}`,
      });
  }

  // The final sync round: the team's epoch and retained history against each stream.
  const finals = new Map(timeline.finals.map((f) => [f.team, f]));
  for (const final of timeline.finals) {
    for (const m of final.messages) {
      if (!sendByData.has(key(m.from, canonical(m.data))))
        note({
          kind: 'unsent',
          team: final.team,
          detail: `stored ${m.id} seq ${m.seq} from ${m.from}: ${canonical(m.data)}`,
        });
    }
  }
  const stored = new Map<string, Set<string>>();
  for (const final of timeline.finals)
    stored.set(final.team, new Set(final.messages.map((m) => m.id)));
  for (const { client, ack } of firstAcks) {
    const final = finals.get(client.team);
    if (!final || ack.epoch !== final.epoch) continue;
    if (!stored.get(client.team)!.has(ack.id))
      note({
        kind: 'lost-from-store',
        client: client.id,
        team: client.team,
        detail: `${ack.id} (ref ${ack.ref}, seq ${ack.seq}) acked in epoch ${ack.epoch} but not in its history`,
      });
  }
  for (const scan of scans) {
    const final = finals.get(scan.client.team);
    // An epoch that holds no message yet (keys expired after the last one) need not be announced.
    if (!final || scan.epoch === undefined || final.messages.length === 0) continue;
    if (final.epoch !== scan.epoch) {
      note({
        kind: 'unannounced-epoch',
        client: scan.client.id,
        team: final.team,
        detail: `the team is in epoch ${final.epoch}; the client was never moved from ${scan.epoch}`,
      });
      continue;
    }
    const missed = final.messages.filter(
      (m) => m.seq > scan.last && m.from !== scan.client.id && !scan.received.has(m.id),
    );
    if (missed.length > 0)
      note({
        kind: 'tail-gap',
        client: scan.client.id,
        team: final.team,
        detail: `${missed.length} message(s) after seq ${scan.last} (up to ${missed[missed.length - 1]!.seq}) never arrived`,
      });
  }

  return {
    sent,
    acked,
    delivered,
    unacked,
    resends,
    indeterminate,
    notices: {
      epoch: clients.reduce(
        (n, c) => n + c.observations.filter((o) => o.kind === 'epoch').length,
        0,
      ),
      incompleteResume: clients.reduce(
        (n, c) => n + c.observations.filter((o) => o.kind === 'resumed' && !o.complete).length,
        0,
      ),
    },
    lost: count('lost'),
    lostFromStore: count('lost-from-store'),
    duplicated: count('duplicate'),
    reordered: count('reorder'),
    silentGaps:
      count('silent-gap') + count('silent-reset') + count('unannounced-epoch') + count('tail-gap'),
    silent: {
      skipped: count('silent-gap'),
      reset: count('silent-reset'),
      unannouncedEpoch: count('unannounced-epoch'),
      tail: count('tail-gap'),
    },
    notifiedGaps,
    unsent: count('unsent'),
    refConflicts: count('ref-conflict'),
    refsReissued,
    seqConflicts: count('seq-conflict'),
    unavailableButStored: count('unavailable-but-stored'),
    findings,
  };
}

function moveTo(scan: Scan, epoch: string, seq: number): void {
  scan.epoch = epoch;
  scan.last = seq;
  scan.start = seq;
}

/** Calls `visit` with each delivered message and the epoch the client believed at that moment. */
function walkEpochs(
  client: ClientRecord,
  visit: (epoch: string, o: Extract<Observation, { kind: 'message' }>) => void,
): void {
  let epoch: string | undefined;
  let welcome: string | undefined;
  for (const o of client.observations) {
    if (o.kind === 'welcome') {
      if (epoch === undefined) epoch = o.epoch;
      else welcome = o.epoch;
    } else if (o.kind === 'resumed') {
      if (welcome !== undefined && (!o.complete || welcome !== epoch)) epoch = welcome;
      welcome = undefined;
    } else if (o.kind === 'epoch') {
      epoch = o.epoch;
    } else if (o.kind === 'message' && epoch !== undefined) {
      visit(epoch, o);
    }
  }
}

/** Pass 1: puts every delivery and ack at its believed (team, epoch, seq). */
function scanEpochs(
  client: ClientRecord,
  place: (team: string, epoch: string, seq: number, id: string) => void,
): Scan {
  walkEpochs(client, (epoch, o) => place(client.team, epoch, o.seq, o.id));
  for (const ack of client.acks) place(client.team, ack.epoch, ack.seq, ack.id);
  return {
    client,
    epoch: undefined,
    last: 0,
    start: 0,
    followFrom: Number.POSITIVE_INFINITY,
    received: new Map(),
    notices: [],
  };
}
