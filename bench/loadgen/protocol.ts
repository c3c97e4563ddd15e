import type { WsClient } from './ws-client';

/** What a frame from the server means to the load generator. */
export const FrameKind = {
  /** A delivered team message: counted, and decoded only when sampled. */
  message: 0,
  /** The server accepted one of this connection's messages. */
  ack: 1,
  /** The connection may now receive team messages. */
  ready: 2,
  error: 3,
  /** Anything else (presence, protocol chatter): ignored. */
  other: 4,
  /** A `subscribe` was accepted: one more of the connection's teams now flows. */
  subscribed: 5,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Member {
  id: string;
  name: string;
  teamId: string;
}

/** The few things the load generator needs to speak one server's wire protocol. */
export interface Protocol {
  /** Request target of the WebSocket upgrade. */
  path(member: Member): string;
  /**
   * Tells what a frame is from its first bytes, without decoding it; answers
   * protocol-level pings itself.
   */
  classify(client: WsClient, buf: Buffer, start: number, end: number): FrameKind;
  /** Sends a team message whose data is the JSON text `data`, asking for an ack. */
  publish(client: WsClient, data: string, n: number, teamId?: string): void;
  /** Follows one more team on the connection (Switchboard only, docs/PROTOCOL.md section 10). */
  subscribe?(client: WsClient, teamId: string): void;
  /** The `data` member of a delivered message's full text, or undefined when malformed. */
  decode(text: string): unknown;
}
