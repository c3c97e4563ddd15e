/**
 * Error codes of the protocol (docs/PROTOCOL.md §3). The server's catalogue
 * (services/errors.ts) gives each its HTTP status and default message; clients
 * branch on these codes, never on messages.
 */

/** Every code an HTTP error answer `{"error":{"code","message"}}` may carry. */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  // A handshake refused because an admin banned the user (403, like forbidden).
  'banned',
  'not_found',
  'method_not_allowed',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'upgrade_required',
  'rate_limited',
  'internal',
  'not_implemented',
  'unavailable',
  'indeterminate',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The codes a socket `error` frame carries: the server maps every other refusal
 * onto these, so a client handles six cases, not every code above.
 */
export const SOCKET_ERROR_CODES = [
  'bad_request',
  'rate_limited',
  'unavailable',
  'indeterminate',
  'forbidden',
  'internal',
] as const satisfies readonly ErrorCode[];

export type SocketErrorCode = (typeof SOCKET_ERROR_CODES)[number];
