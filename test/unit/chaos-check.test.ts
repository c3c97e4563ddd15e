import {
  check,
  type AckRecord,
  type ClientRecord,
  type DeliveredMessage,
  type FinalTeam,
  type Observation,
  type SendRecord,
} from '../../scripts/lib/chaos-check';

/**
 * Hand-made timelines: a sender `s` and a listener `l` in team T. The sender
 * sends n messages at t = 10n (ref r<n>, id m<n>) and gets each ack at t = 10n + 5.
 */
const T = 'T';
const E1 = 'e1';
const E2 = 'e2';

function sent(n: number): SendRecord {
  return { ref: `r${n}`, data: { from: 's', n }, firstSentAt: 10 * n, resends: 0 };
}

function ack(n: number, seq = n, epoch = E1, id = `m${n}`): AckRecord {
  return { ref: `r${n}`, id, seq, epoch, at: 10 * n + 5 };
}

function msg(n: number, seq = n, id = `m${n}`): Observation {
  return { kind: 'message', at: 10 * n + 6, id, seq, from: 's', data: { from: 's', n } };
}

function stored(n: number, seq = n, id = `m${n}`): DeliveredMessage {
  return { id, seq, from: 's', data: { from: 's', n } };
}

const welcome = (epoch = E1, seq = 0, at = 0): Observation => ({ kind: 'welcome', at, epoch, seq });

function sender(count: number, acks?: AckRecord[]): ClientRecord {
  const ns = Array.from({ length: count }, (_, i) => i + 1);
  return {
    id: 's',
    team: T,
    sends: ns.map(sent),
    acks: acks ?? ns.map((n) => ack(n)),
    observations: [welcome()],
    indeterminate: 0,
  };
}

function listener(observations: Observation[]): ClientRecord {
  return { id: 'l', team: T, sends: [], acks: [], observations, indeterminate: 0 };
}

function final(messages: DeliveredMessage[], epoch = E1): FinalTeam {
  return { team: T, epoch, head: messages.length, messages };
}

const clean = () => ({
  clients: [sender(3), listener([welcome(), msg(1), msg(2), msg(3)])],
  finals: [final([stored(1), stored(2), stored(3)])],
});

function kinds(result: ReturnType<typeof check>): string[] {
  return [...new Set(result.findings.map((f) => f.kind))].sort();
}

describe('chaos checker', () => {
  test('a clean run passes with every figure right', () => {
    const result = check(clean());
    expect(kinds(result)).toEqual([]);
    expect(result).toMatchObject({
      sent: 3,
      acked: 3,
      delivered: 3,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      silentGaps: 0,
      notifiedGaps: 0,
      unsent: 0,
      refConflicts: 0,
      seqConflicts: 0,
    });
  });

  test("a sender's own messages are no gap in its stream", () => {
    // s sends 1 and 3, o sends 2: s sees only seq 2, o sees 1 and 3.
    const other: ClientRecord = {
      id: 'o',
      team: T,
      sends: [{ ref: 'o2', data: { from: 'o', n: 2 }, firstSentAt: 20, resends: 0 }],
      acks: [{ ref: 'o2', id: 'm2', seq: 2, epoch: E1, at: 25 }],
      observations: [welcome(), msg(1), msg(3)],
      indeterminate: 0,
    };
    const s: ClientRecord = {
      ...sender(3, [ack(1), ack(3)]),
      sends: [sent(1), sent(3)],
      observations: [
        welcome(),
        { kind: 'message', at: 26, id: 'm2', seq: 2, from: 'o', data: { from: 'o', n: 2 } },
      ],
    };
    const o2 = { id: 'm2', seq: 2, from: 'o', data: { from: 'o', n: 2 } };
    const result = check({
      clients: [s, other],
      finals: [final([stored(1), o2, stored(3)])],
    });
    expect(kinds(result)).toEqual([]);
  });

  test('a message the listener never got, with no notice, is a silent gap and a loss', () => {
    const timeline = clean();
    timeline.clients[1] = listener([welcome(), msg(1), msg(3)]);
    const result = check(timeline);
    expect(kinds(result)).toEqual(['lost', 'silent-gap']);
    expect(result.silentGaps).toBe(1);
    expect(result.lost).toBe(1);
  });

  test('a missing last message (an idle listener) is found by the final sync: a tail gap', () => {
    const timeline = clean();
    timeline.clients[1] = listener([welcome(), msg(1), msg(2)]);
    const result = check(timeline);
    expect(kinds(result)).toEqual(['lost', 'tail-gap']);
  });

  test('a message received twice is a duplicate', () => {
    const timeline = clean();
    timeline.clients[1] = listener([welcome(), msg(1), msg(2), msg(2), msg(3)]);
    const result = check(timeline);
    expect(kinds(result)).toEqual(['duplicate']);
    expect(result.duplicated).toBe(1);
  });

  test('messages out of seq order are a reorder', () => {
    const timeline = clean();
    timeline.clients[1] = listener([welcome(), msg(2), msg(1), msg(3)]);
    const result = check(timeline);
    // seq 2 right after the welcome at 0 skipped seq 1 at that moment: a gap, then a reorder.
    expect(kinds(result)).toEqual(['reorder', 'silent-gap']);
    expect(result.reordered).toBe(1);
  });

  test('a message nobody sent is unsent', () => {
    const timeline = clean();
    const forged: Observation = {
      kind: 'message',
      at: 40,
      id: 'x',
      seq: 4,
      from: 's',
      data: { from: 's', n: 99 },
    };
    timeline.clients[1] = listener([welcome(), msg(1), msg(2), msg(3), forged]);
    const result = check(timeline);
    expect(kinds(result)).toEqual(['unsent']);
    expect(result.unsent).toBe(1);
  });

  test('a ref acked with two seqs in one epoch is a ref conflict (and a seq conflict)', () => {
    const timeline = clean();
    timeline.clients[0] = sender(3, [ack(1), ack(2), ack(3), ack(2, 4, E1, 'm2b')]);
    timeline.clients[1] = listener([welcome(), msg(1), msg(2), msg(3), msg(2, 4, 'm2b')]);
    timeline.finals = [final([stored(1), stored(2), stored(3), stored(2, 4, 'm2b')])];
    const result = check(timeline);
    expect(kinds(result)).toEqual(['ref-conflict']);
    expect(result.refConflicts).toBe(1);
  });

  test('two ids at one (epoch, seq) are a seq conflict', () => {
    const timeline = clean();
    timeline.clients[0] = sender(3, [ack(1), ack(2), ack(3, 2, E1, 'm3')]);
    timeline.clients[1] = listener([welcome(), msg(1), msg(2), msg(3, 2)]);
    const result = check(timeline);
    expect(kinds(result)).toContain('seq-conflict');
    expect(result.seqConflicts).toBe(1);
    // The listener got seq 2 twice with two ids: its (epoch, seq) filter would drop one.
    expect(kinds(result)).toContain('silent-reset');
  });

  test('a gap right after an epoch frame is allowed: the client was told', () => {
    // m1, m2 in e1; the team is reset; the listener misses m2 and is told by an epoch frame.
    const timeline = {
      clients: [
        sender(4, [ack(1), ack(2), ack(3, 1, E2), ack(4, 2, E2)]),
        listener([
          welcome(),
          msg(1),
          { kind: 'epoch', at: 29, epoch: E2, seq: 0 },
          msg(3, 1),
          msg(4, 2),
        ]),
      ],
      finals: [final([stored(3, 1), stored(4, 2)], E2)],
    };
    timeline.clients[0]!.observations.push({ kind: 'epoch', at: 29, epoch: E2, seq: 0 });
    const result = check(timeline);
    expect(kinds(result)).toEqual([]);
    expect(result.notifiedGaps).toBe(1);
    expect(result.notices.epoch).toBe(2);
  });

  test("an ack that overtakes its epoch frame is placed in the receivers' epoch", () => {
    const s = sender(3, [ack(1), ack(2), ack(3, 1, E1)]);
    s.observations.push({ kind: 'epoch', at: 36, epoch: E2, seq: 0 });
    const timeline = {
      clients: [
        s,
        listener([
          welcome(),
          msg(1),
          msg(2),
          { kind: 'epoch', at: 29, epoch: E2, seq: 0 },
          msg(3, 1),
        ]),
      ],
      finals: [final([stored(3, 1)], E2)],
    };
    expect(kinds(check(timeline))).toEqual([]);
  });

  test('the same reset without the epoch frame is a silent reset and a loss', () => {
    const timeline = {
      clients: [
        sender(4, [ack(1), ack(2), ack(3, 1, E1), ack(4, 2, E1)]),
        listener([welcome(), msg(1), msg(3, 1), msg(4, 2)]),
      ],
      finals: [final([stored(3, 1), stored(4, 2)], E2)],
    };
    const result = check(timeline);
    expect(kinds(result)).toEqual(
      expect.arrayContaining(['lost', 'seq-conflict', 'silent-reset', 'unannounced-epoch']),
    );
    expect(result.silentGaps).toBeGreaterThan(0);
  });

  test('an idle listener that is never moved to the new epoch is an unannounced epoch', () => {
    const timeline = {
      clients: [sender(2, [ack(1), ack(2, 1, E2)]), listener([welcome(), msg(1)])],
      finals: [final([stored(2, 1)], E2)],
    };
    timeline.clients[0]!.observations.push({ kind: 'epoch', at: 15, epoch: E2, seq: 0 });
    const result = check(timeline);
    expect(kinds(result)).toEqual(['lost', 'unannounced-epoch']);
  });

  test('resumed complete:false covers what was missed while away, not what came after', () => {
    const away: Observation[] = [
      welcome(),
      msg(1),
      { kind: 'welcome', at: 34, epoch: E2, seq: 1 },
      { kind: 'resumed', at: 35, since: 1, seq: 1, complete: false },
      msg(4, 2),
    ];
    const timeline = {
      clients: [sender(4, [ack(1), ack(2), ack(3, 1, E2), ack(4, 2, E2)]), listener(away)],
      finals: [final([stored(3, 1), stored(4, 2)], E2)],
    };
    timeline.clients[0]!.observations.push({ kind: 'epoch', at: 25, epoch: E2, seq: 0 });
    const result = check(timeline);
    expect(kinds(result)).toEqual([]);
    expect(result.notifiedGaps).toBe(2);

    // The same, but it also misses m4 (seq 2 of e2, sent after the notice): a loss.
    const missed = { ...timeline, clients: [timeline.clients[0]!, listener(away.slice(0, 4))] };
    expect(kinds(check(missed))).toEqual(['lost', 'tail-gap']);
  });

  test('resumed complete:true with a gap in the replay is a silent gap', () => {
    const timeline = clean();
    timeline.clients[1] = listener([
      welcome(),
      msg(1),
      { kind: 'welcome', at: 25, epoch: E1, seq: 3 },
      msg(3),
      { kind: 'resumed', at: 36, since: 1, seq: 3, complete: true },
    ]);
    expect(kinds(check(timeline))).toEqual(['lost', 'silent-gap']);
  });

  test('a message sent before the listener joined is not expected', () => {
    const timeline = clean();
    timeline.clients[1] = listener([welcome(E1, 1, 12), msg(2), msg(3)]);
    expect(kinds(check(timeline))).toEqual([]);
  });

  test('a message stored although every attempt was answered unavailable is flagged', () => {
    // r2 is written at 20, answered unavailable at 22 (Redis died with it in flight, and
    // kept it); m2 reaches l at 26; the resend at 30 gets the first ack back.
    const timeline = clean();
    const s = timeline.clients[0]!;
    s.sends[1] = { ...sent(2), resends: 1, writtenAt: [20, 30] };
    s.answers = [{ ref: 'r2', code: 'unavailable', at: 22 }];
    s.acks[1] = { ...ack(2), at: 31 };
    const result = check(timeline);
    expect(kinds(result)).toEqual(['unavailable-but-stored']);
    expect(result.unavailableButStored).toBe(1);

    // Answered indeterminate instead: the protocol's answer for an unknown outcome.
    s.answers = [{ ref: 'r2', code: 'indeterminate', at: 22 }];
    expect(kinds(check(timeline))).toEqual([]);

    // Seen only after the resend: the resend may have stored it; nothing to say.
    s.answers = [{ ref: 'r2', code: 'unavailable', at: 22 }];
    timeline.clients[1] = listener([
      welcome(),
      msg(1),
      { ...msg(2), at: 32 } as Observation,
      msg(3),
    ]);
    expect(kinds(check(timeline))).toEqual([]);
  });

  test('an acked message missing from its epoch history is lost from the store', () => {
    const timeline = clean();
    timeline.finals = [final([stored(1), stored(3)])];
    expect(kinds(check(timeline))).toEqual(['lost-from-store']);
  });
});
