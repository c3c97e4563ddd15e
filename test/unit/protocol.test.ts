import { CloseCodes } from '../../client/switchboard-client';
import { CloseCode } from '../../protocol/close-codes';
import { ERROR_CODES, SOCKET_ERROR_CODES } from '../../protocol/errors';
import type { ClientFrame } from '../../protocol/frames';
import { HISTORY_DEFAULT_LIMIT } from '../../protocol/limits';
import { errorCatalogue } from '../../services/errors';
import { parseClientFrame } from '../../services/frames';

/** The shared protocol module (protocol/) is what the server and the client both follow. */

test('the server catalogue has exactly the protocol error codes', () => {
  expect(Object.keys(errorCatalogue).sort()).toEqual([...ERROR_CODES].sort());
  for (const code of SOCKET_ERROR_CODES) expect(ERROR_CODES).toContain(code);
});

test("the client's close codes are the protocol's", () => {
  expect(CloseCodes).toEqual({
    goingAway: CloseCode.goingAway,
    tooLarge: CloseCode.tooBig,
    kicked: CloseCode.kicked,
    banned: CloseCode.banned,
    slowConsumer: CloseCode.slowConsumer,
  });
});

test('the server parses every kind of client frame the protocol declares', () => {
  const frames: ClientFrame[] = [
    { type: 'team', data: { text: 'hi' }, ref: 'r1' },
    { type: 'team', data: 'no ref' },
    { type: 'direct', to: 'u2', data: [1, 2], ref: 'r2' },
    { type: 'presence' },
    { type: 'history', before: 10, limit: 20 },
    { type: 'history' },
    { type: 'ping' },
  ];
  for (const frame of frames) {
    const parsed = parseClientFrame(JSON.stringify(frame));
    const expected = frame.type === 'history' ? { limit: HISTORY_DEFAULT_LIMIT, ...frame } : frame;
    expect(parsed).toEqual(expected);
  }
});
