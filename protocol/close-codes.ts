/**
 * WebSocket close codes the server uses (docs/PROTOCOL.md §7). 1009 comes from
 * the ws library's `maxPayload`; the others are sent by Switchboard itself.
 */
export const CloseCode = {
  /** The server is shutting down; reconnect, to another node. */
  goingAway: 1001,
  /** Policy: the token expired, or the client kept flooding past the rate limit. */
  policy: 1008,
  /** A frame larger than MAX_MESSAGE_BYTES. */
  tooBig: 1009,
  internal: 1011,
  /** Closed by an admin (`DELETE /api/connections/:connId`). */
  kicked: 4000,
  /** Banned by an admin (`POST /api/bans`); do not reconnect on your own. */
  banned: 4003,
  /** More than MAX_BUFFERED_BYTES waiting to be sent; the client may resume. */
  slowConsumer: 4008,
} as const;

export type CloseCodeNumber = (typeof CloseCode)[keyof typeof CloseCode];
