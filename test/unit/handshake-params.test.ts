import fc from 'fast-check';
import { AppError } from '../../services/errors';
import { handshakeQuery, parseHandshakeParams } from '../../services/socket/handshake-params';

const base = { id: 'alice', name: 'Alice', teamId: 'team-1' };

function params(values: Record<string, string>): URLSearchParams {
  return new URLSearchParams(values);
}

/** Expects a bad_request and returns its message. */
function refusal(search: URLSearchParams): string {
  try {
    parseHandshakeParams(search);
  } catch (err) {
    if (err instanceof AppError) {
      expect(err.code).toBe('bad_request');
      expect(err.status).toBe(400);
      return err.message;
    }
    throw err;
  }
  throw new Error('expected a bad_request, nothing was thrown');
}

describe('parseHandshakeParams: valid', () => {
  test('the required params only', () => {
    expect(parseHandshakeParams(params(base))).toEqual(base);
  });

  test('all params', () => {
    expect(
      parseHandshakeParams(params({ ...base, since: '12', epoch: 'ab12cd34', token: 'a.b.c' })),
    ).toEqual({ ...base, since: 12, epoch: 'ab12cd34', token: 'a.b.c' });
  });

  test('since 0 is kept as a number', () => {
    const p = parseHandshakeParams(params({ ...base, since: '0' }));
    expect(p.since).toBe(0);
  });

  test('a Chinese name', () => {
    expect(parseHandshakeParams(params({ ...base, name: '张三' })).name).toBe('张三');
  });

  test('a Chinese name from a percent-encoded query string', () => {
    const search = new URLSearchParams(`id=u1&teamId=t1&name=${encodeURIComponent('张三')}`);
    expect(parseHandshakeParams(search)).toEqual({ id: 'u1', teamId: 't1', name: '张三' });
  });

  test('names with spaces, punctuation and emoji', () => {
    for (const name of ['Ada Lovelace', "O'Brien-Smith", 'Zoë 👩‍💻']) {
      expect(parseHandshakeParams(params({ ...base, name })).name).toBe(name);
    }
  });

  test('ids use the whole charset', () => {
    const id = 'AZaz09_.:@-';
    expect(parseHandshakeParams(params({ ...base, id, teamId: id }))).toMatchObject({
      id,
      teamId: id,
    });
  });

  test('ids of 1 and 64 characters', () => {
    for (const id of ['a', 'x'.repeat(64)]) {
      expect(parseHandshakeParams(params({ ...base, id, teamId: id }))).toMatchObject({
        id,
        teamId: id,
      });
    }
  });

  test('a name of 100 emoji (100 code points, 200 UTF-16 units) is accepted', () => {
    const name = '😀'.repeat(100);
    expect(name.length).toBe(200);
    expect(parseHandshakeParams(params({ ...base, name })).name).toBe(name);
  });

  test('a name of 100 Chinese characters is accepted', () => {
    const name = '张'.repeat(100);
    expect(parseHandshakeParams(params({ ...base, name })).name).toBe(name);
  });

  test('unknown params are ignored', () => {
    expect(parseHandshakeParams(params({ ...base, foo: 'bar' }))).toEqual(base);
  });
});

describe('parseHandshakeParams: refused', () => {
  test.each(['id', 'name', 'teamId'])('missing %s, named in the message', (field) => {
    const values = Object.fromEntries(Object.entries(base).filter(([key]) => key !== field));
    expect(refusal(params(values))).toMatch(new RegExp(`\\b${field}\\b`));
  });

  test.each(['id', 'name', 'teamId'])('empty %s, named in the message', (field) => {
    expect(refusal(params({ ...base, [field]: '' }))).toMatch(new RegExp(`\\b${field}\\b`));
  });

  test.each(['has space', 'a/b', 'a#b', '张三', 'é', 'a+b', 'x'.repeat(65), 'a\nb'])(
    'id %j',
    (id) => {
      expect(refusal(params({ ...base, id }))).toMatch(/^id: /);
    },
  );

  test.each(['has space', 'a/b', '张三', 'x'.repeat(65)])('teamId %j', (teamId) => {
    expect(refusal(params({ ...base, teamId }))).toMatch(/^teamId: /);
  });

  test('a name of 101 emoji is refused', () => {
    expect(refusal(params({ ...base, name: '😀'.repeat(101) }))).toMatch(/^name: /);
  });

  test('a name of 101 ASCII characters is refused', () => {
    expect(refusal(params({ ...base, name: 'a'.repeat(101) }))).toMatch(/^name: /);
  });

  test.each(['a\nb', 'a\rb', 'tab\there', 'nul\u0000', 'del\u007f', 'c1\u0085', '\u001b[31m'])(
    'name with a control character %j',
    (name) => {
      expect(refusal(params({ ...base, name }))).toMatch(/^name: .*control/);
    },
  );

  test.each(['-1', '1.5', 'abc', '', ' 1', '1e3', '0x10', '9'.repeat(16)])('since %j', (since) => {
    expect(refusal(params({ ...base, since }))).toMatch(/^since: /);
  });

  test('empty epoch', () => {
    expect(refusal(params({ ...base, epoch: '' }))).toMatch(/^epoch: /);
  });

  test('epoch longer than 64', () => {
    expect(refusal(params({ ...base, epoch: 'e'.repeat(65) }))).toMatch(/^epoch: /);
  });

  test('empty token', () => {
    expect(refusal(params({ ...base, token: '' }))).toMatch(/^token: /);
  });

  test.each(['id', 'name', 'teamId', 'since', 'epoch', 'token'])(
    'duplicated %s is refused and named',
    (field) => {
      const search = params({ ...base, since: '1', epoch: 'e', token: 't' });
      search.append(field, field === 'since' ? '2' : 'other');
      expect(refusal(search)).toMatch(new RegExp(`^${field}: `));
    },
  );

  test('messages are one line', () => {
    expect(refusal(params({ id: '', name: '', teamId: '' }))).not.toMatch(/\n/);
  });
});

describe('handshakeQuery', () => {
  /** What the handshake read before: the query of the whole URL, parsed. */
  const viaUrl = (url: string) => [...new URL(url, 'http://x').searchParams];

  test.each([
    '/socket',
    '/socket?',
    '/socket?id=a&name=b&teamId=c',
    '/socket?id=a&id=b',
    '/socket?name=A+B%20C&teamId=t',
    '/socket?id=a#frag&name=b',
    '/socket?id=%zz&name=%E2%82%AC&x',
    '/socket?id=\'"<>&name=\u00e9\u00c3\u00a9',
    '/socket??id=a&=b&c==d',
    '/socket?\u00e9%%2a',
  ])('%s reads as through new URL', (url) => {
    expect([...handshakeQuery(url)]).toEqual(viaUrl(url));
  });

  test('any request target reads as through new URL', () => {
    const piece = fc.constantFrom(
      '?',
      '&',
      '=',
      '#',
      '+',
      '%',
      '%2',
      '%41',
      'a',
      'é',
      ' ',
      '\t',
      '\u007f',
      '/',
      "'",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (pieces) => {
        const url = `/socket${pieces.join('')}`;
        expect([...handshakeQuery(url)]).toEqual(viaUrl(url));
      }),
    );
  });
});
