import type { ErrorCode } from '../errors';
import { encodeFrame } from '../frames';
import { textFrame } from './ws-frame';

/** Error codes a socket `error` frame may carry (docs/PROTOCOL.md §3). */
const SOCKET_CODES = new Set<ErrorCode>([
  'bad_request',
  'rate_limited',
  'unavailable',
  'indeterminate',
  'forbidden',
  'internal',
]);

/** The catalogue code as a socket client may see it: HTTP-only codes fold into two. */
function socketCode(code: ErrorCode): ErrorCode {
  if (SOCKET_CODES.has(code)) return code;
  return code === 'payload_too_large' || code === 'not_found' || code === 'conflict'
    ? 'bad_request'
    : 'internal';
}

/** The `error` frame that refuses a client frame, and the code it carries on the wire. */
export function errorFrame(
  code: ErrorCode,
  message: string,
  ref: string | undefined,
): { wire: ErrorCode; frame: Buffer } {
  const wire = socketCode(code);
  const frame = textFrame(
    encodeFrame({ type: 'error', code: wire, message, ...(ref === undefined ? {} : { ref }) }),
  );
  return { wire, frame };
}
