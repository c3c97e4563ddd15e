import { SOCKET_ERROR_CODES, type SocketErrorCode } from '../../protocol/errors';
import type { ErrorCode } from '../errors';
import { encodeFrame } from '../frames';
import { textFrame } from './ws-frame';

const SOCKET_CODES: ReadonlySet<ErrorCode> = new Set(SOCKET_ERROR_CODES);

function isSocketCode(code: ErrorCode): code is SocketErrorCode {
  return SOCKET_CODES.has(code);
}

/** The catalogue code as a socket client may see it (docs/PROTOCOL.md §3): HTTP-only codes fold into two. */
function socketCode(code: ErrorCode): SocketErrorCode {
  if (isSocketCode(code)) return code;
  return code === 'payload_too_large' || code === 'not_found' || code === 'conflict'
    ? 'bad_request'
    : 'internal';
}

/** The `error` frame that refuses a client frame, and the code it carries on the wire. */
export function errorFrame(
  code: ErrorCode,
  message: string,
  ref: string | undefined,
): { wire: SocketErrorCode; frame: Buffer } {
  const wire = socketCode(code);
  const frame = textFrame(
    encodeFrame({ type: 'error', code: wire, message, ...(ref === undefined ? {} : { ref }) }),
  );
  return { wire, frame };
}
