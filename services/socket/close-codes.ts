/** WebSocket close codes the server uses; docs/PROTOCOL.md lists what each means. */
export const CloseCode = {
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  kicked: 4000,
  banned: 4003,
  slowConsumer: 4008,
} as const;
