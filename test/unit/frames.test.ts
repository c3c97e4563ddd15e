import fc from 'fast-check';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../../protocol/limits';
import { AppError } from '../../services/errors';
import {
  encodeAck,
  encodeFrame,
  encodeMessageFrame,
  messageView,
  parseClientFrame,
} from '../../services/frames';
import type { Message } from '../../services/types';

/** Runs `fn`, expects an AppError and returns it so the test can inspect it. */
function appErrorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError, nothing was thrown');
}

function badRequest(text: string): AppError {
  const err = appErrorOf(() => parseClientFrame(text));
  expect(err.code).toBe('bad_request');
  expect(err.status).toBe(400);
  return err;
}

describe('parseClientFrame: plain text is a team message', () => {
  test.each(['消息发送', 'hello', '[1,2]', '"str"', '42', 'null', 'true', '', '   ', '[{"a":1}]'])(
    '%j becomes a team message carrying the text',
    (text) => {
      expect(parseClientFrame(text)).toEqual({ type: 'team', data: text });
    },
  );

  test('the text is kept verbatim, not parsed', () => {
    const frame = parseClientFrame('[1,2]');
    expect(frame).toEqual({ type: 'team', data: '[1,2]' });
    expect(frame).not.toHaveProperty('ref');
  });

  test.each(['{"a":1}', '{"type":5}', '{"type":null}', '{"type":{"x":1}}', '{}', ' {"data":"x"}'])(
    'a JSON object without a string type (%s) is a team message of the text',
    (text) => {
      expect(parseClientFrame(text)).toEqual({ type: 'team', data: text });
    },
  );
});

describe('parseClientFrame: malformed JSON objects', () => {
  test.each(['{', '{"type":"team"', '{type:"team"}', '  {oops}', "{'type':'ping'}", '{"a":1}x'])(
    '%j is refused with bad_request',
    (text) => {
      const err = badRequest(text);
      expect(err.message).toMatch(/json/i);
    },
  );
});

describe('parseClientFrame: valid frames', () => {
  test('team without ref', () => {
    expect(parseClientFrame('{"type":"team","data":{"text":"hi"}}')).toEqual({
      type: 'team',
      data: { text: 'hi' },
    });
  });

  test('team with ref', () => {
    expect(parseClientFrame('{"type":"team","data":"hi","ref":"r-1"}')).toEqual({
      type: 'team',
      data: 'hi',
      ref: 'r-1',
    });
  });

  test.each([
    ['null', null],
    ['0', 0],
    ['false', false],
    ['""', ''],
    ['[]', []],
  ])('team data may be any JSON value, including %s', (json, data) => {
    expect(parseClientFrame(`{"type":"team","data":${json}}`)).toEqual({ type: 'team', data });
  });

  test('team ref of exactly 64 characters is accepted', () => {
    const ref = 'r'.repeat(64);
    expect(parseClientFrame(JSON.stringify({ type: 'team', data: 1, ref }))).toEqual({
      type: 'team',
      data: 1,
      ref,
    });
  });

  test('direct without ref', () => {
    expect(parseClientFrame('{"type":"direct","to":"bob","data":"psst"}')).toEqual({
      type: 'direct',
      to: 'bob',
      data: 'psst',
    });
  });

  test('direct with ref', () => {
    expect(parseClientFrame('{"type":"direct","to":"a.b:c@d-e_f","data":[1],"ref":"x"}')).toEqual({
      type: 'direct',
      to: 'a.b:c@d-e_f',
      data: [1],
      ref: 'x',
    });
  });

  test('presence', () => {
    expect(parseClientFrame('{"type":"presence"}')).toEqual({ type: 'presence' });
  });

  test('ping', () => {
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ type: 'ping' });
  });

  test('unknown extra fields are dropped', () => {
    expect(parseClientFrame('{"type":"ping","extra":1}')).toEqual({ type: 'ping' });
    expect(parseClientFrame('{"type":"team","data":1,"to":"bob","extra":2}')).toEqual({
      type: 'team',
      data: 1,
    });
  });

  test('history without before or limit uses the default limit', () => {
    expect(HISTORY_DEFAULT_LIMIT).toBe(50);
    expect(parseClientFrame('{"type":"history"}')).toEqual({ type: 'history', limit: 50 });
  });

  test('history with before and limit', () => {
    expect(parseClientFrame('{"type":"history","before":10,"limit":5}')).toEqual({
      type: 'history',
      before: 10,
      limit: 5,
    });
  });

  test('history with before 0 is kept', () => {
    expect(parseClientFrame('{"type":"history","before":0}')).toEqual({
      type: 'history',
      before: 0,
      limit: 50,
    });
  });

  test.each([
    [1, 1],
    [200, 200],
    [201, 200],
    [100000, 200],
  ])('history limit %i becomes %i', (limit, expected) => {
    expect(HISTORY_MAX_LIMIT).toBe(200);
    expect(parseClientFrame(JSON.stringify({ type: 'history', limit }))).toEqual({
      type: 'history',
      limit: expected,
    });
  });
});

describe('parseClientFrame: invalid frames', () => {
  test('team without data', () => {
    expect(badRequest('{"type":"team"}').message).toMatch(/data/);
  });

  test('team with ref but without data', () => {
    expect(badRequest('{"type":"team","ref":"r"}').message).toMatch(/data/);
  });

  test('direct without data', () => {
    expect(badRequest('{"type":"direct","to":"bob"}').message).toMatch(/data/);
  });

  test('direct without to', () => {
    expect(badRequest('{"type":"direct","data":"x"}').message).toMatch(/\bto\b/);
  });

  test.each(['', 'has space', 'a/b', 'x'.repeat(65), '张三'])('direct with bad to %j', (to) => {
    expect(badRequest(JSON.stringify({ type: 'direct', to, data: 'x' })).message).toMatch(/\bto\b/);
  });

  test('direct with a non-string to', () => {
    expect(badRequest('{"type":"direct","to":5,"data":"x"}').message).toMatch(/\bto\b/);
  });

  test('ref of 65 characters', () => {
    const ref = 'r'.repeat(65);
    expect(badRequest(JSON.stringify({ type: 'team', data: 1, ref })).message).toMatch(/ref/);
    expect(badRequest(JSON.stringify({ type: 'direct', to: 'b', data: 1, ref })).message).toMatch(
      /ref/,
    );
  });

  test('empty ref', () => {
    expect(badRequest('{"type":"team","data":1,"ref":""}').message).toMatch(/ref/);
  });

  test('non-string ref', () => {
    expect(badRequest('{"type":"team","data":1,"ref":7}').message).toMatch(/ref/);
  });

  test.each(['0', '-1', '1.5', '"10"', 'null', 'true'])('history limit %s', (limit) => {
    expect(badRequest(`{"type":"history","limit":${limit}}`).message).toMatch(/limit/);
  });

  test.each(['-1', '1.5', '"3"'])('history before %s', (before) => {
    expect(badRequest(`{"type":"history","before":${before}}`).message).toMatch(/before/);
  });

  test.each([
    'chat',
    'TEAM',
    'message',
    'welcome',
    '',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
  ])('unknown type %j', (type) => {
    const err = badRequest(JSON.stringify({ type, data: 'x' }));
    expect(err.message).toMatch(/unknown frame type/);
  });

  test('a very long unknown type is not echoed in full', () => {
    const type = 'z'.repeat(5000);
    const err = badRequest(JSON.stringify({ type }));
    expect(err.message).toMatch(/unknown frame type/);
    expect(err.message.length).toBeLessThan(200);
  });

  test('messages never contain a newline', () => {
    const err = badRequest('{"type":"direct","to":"","data":1,"ref":""}');
    expect(err.message).not.toMatch(/\n/);
  });
});

describe('parseClientFrame: prototype pollution', () => {
  afterEach(() => {
    // Clean up if a test did pollute, so one failure does not cascade.
    for (const key of ['polluted', 'hacked']) {
      Reflect.deleteProperty(Object.prototype, key);
    }
  });

  test('__proto__ inside data does not touch Object.prototype', () => {
    const frame = parseClientFrame(
      '{"type":"team","data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"hacked":true}}}}',
    );
    expect(frame.type).toBe('team');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['hacked']).toBeUndefined();
    if (frame.type !== 'team') throw new Error('unreachable');
    // The key is kept as plain data, as JSON.parse gives it.
    expect(JSON.stringify(frame.data)).toContain('"__proto__"');
  });

  test('__proto__ at the top level of the frame does not touch Object.prototype', () => {
    const frame = parseClientFrame(
      '{"type":"ping","__proto__":{"polluted":true},"constructor":{"prototype":{"hacked":true}}}',
    );
    expect(frame).toEqual({ type: 'ping' });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['hacked']).toBeUndefined();
  });

  test('__proto__ in a direct frame does not touch Object.prototype', () => {
    parseClientFrame('{"type":"direct","to":"b","data":{"__proto__":{"polluted":1}}}');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('messageView and encodeMessageFrame', () => {
  const teamMessage: Message = {
    id: 'm-1',
    seq: 7,
    teamId: 'team-a',
    from: { id: 'alice', name: '张三' },
    data: { text: 'hi' },
    ts: 1_700_000_000_000,
    origin: 'conn-secret',
  };
  const directMessage: Message = { ...teamMessage, id: 'm-2', seq: 8, to: 'bob' };

  test('team message view has exactly the public keys and no to', () => {
    const view = messageView(teamMessage);
    expect(Object.keys(view).sort()).toEqual(['data', 'from', 'id', 'seq', 'teamId', 'ts']);
    expect(view).toEqual({
      id: 'm-1',
      seq: 7,
      teamId: 'team-a',
      from: { id: 'alice', name: '张三' },
      data: { text: 'hi' },
      ts: 1_700_000_000_000,
    });
  });

  test('direct message view has to', () => {
    const view = messageView(directMessage);
    expect(Object.keys(view).sort()).toEqual(['data', 'from', 'id', 'seq', 'teamId', 'to', 'ts']);
    expect(view.to).toBe('bob');
  });

  test('origin never leaks', () => {
    expect(messageView(directMessage)).not.toHaveProperty('origin');
    expect(encodeMessageFrame(directMessage)).not.toContain('conn-secret');
    expect(encodeMessageFrame(directMessage)).not.toContain('origin');
  });

  test('encodeMessageFrame returns the JSON of the message frame', () => {
    const decoded: unknown = JSON.parse(encodeMessageFrame(teamMessage));
    expect(decoded).toEqual({
      type: 'message',
      id: 'm-1',
      seq: 7,
      teamId: 'team-a',
      from: { id: 'alice', name: '张三' },
      data: { text: 'hi' },
      ts: 1_700_000_000_000,
    });
    expect(Object.keys(decoded as object).sort()).toEqual([
      'data',
      'from',
      'id',
      'seq',
      'teamId',
      'ts',
      'type',
    ]);
  });

  test('encoded direct frame carries to', () => {
    const decoded: unknown = JSON.parse(encodeMessageFrame(directMessage));
    expect(decoded).toMatchObject({ type: 'message', to: 'bob', seq: 8 });
    expect(Object.keys(decoded as object).sort()).toEqual([
      'data',
      'from',
      'id',
      'seq',
      'teamId',
      'to',
      'ts',
      'type',
    ]);
  });
});

describe('hand-written encoders', () => {
  const text = fc.string({ unit: 'binary', maxLength: 40 });
  const message: fc.Arbitrary<Message> = fc.record(
    {
      id: text,
      seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      teamId: text,
      from: fc.record({ id: text, name: text }),
      to: text,
      data: fc.oneof(fc.jsonValue(), fc.constant(undefined)),
      ts: fc.integer({ min: 0, max: 2 ** 45 }),
      origin: text,
    },
    { requiredKeys: ['id', 'seq', 'teamId', 'from', 'data', 'ts'] },
  );

  test('encodeMessageFrame is byte for byte JSON.stringify of the frame', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(encodeMessageFrame(m)).toBe(JSON.stringify({ type: 'message', ...messageView(m) }));
      }),
      { numRuns: 2000 },
    );
  });

  test('encodeAck is byte for byte encodeFrame of the ack', () => {
    fc.assert(
      fc.property(
        fc.option(text, { nil: undefined }),
        text,
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (ref, id, seq) => {
          expect(encodeAck(ref, id, seq)).toBe(
            encodeFrame({ type: 'ack', ...(ref === undefined ? {} : { ref }), id, seq }),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});
