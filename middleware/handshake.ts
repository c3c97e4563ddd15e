import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { VerifyClientCallbackAsync } from 'ws';
import { AppError, toAppError } from '../services/errors';
import {
  handshakeQuery,
  parseHandshakeParams,
  type HandshakeParams,
} from '../services/socket/handshake-params';
import type { Hub } from '../services/socket/hub';
import { verifySocketToken } from '../services/jwt';
import type { Metrics } from '../services/metrics';
import { clientIp } from './client-ip';

export interface Handshake {
  params: Omit<HandshakeParams, 'token'>;
  ip: string;
  /** ms since epoch when the token expires, when auth is on. */
  expiresAt?: number;
  /** When auth is on, the teams besides the home team the token allows (`teams` claim). */
  teams?: string[];
}

export interface HandshakeOptions {
  authSecret: string | undefined;
  allowedOrigins: string[];
  trustProxy: boolean;
  maxConnections: number;
  maxConnectionsPerIp: number;
  isDraining: () => boolean;
  /** Local and synchronous (Bans.isBanned): no I/O per handshake. */
  isBanned: (userId: string, teamId: string) => boolean;
  hub: Hub;
  metrics: Metrics;
  log: Logger;
}

/**
 * Checks that run before the upgrade, so a refused client gets a plain HTTP status
 * and never an open socket. What was verified is handed to the socket route through
 * `handshakes`, keyed by the request object both sides share.
 */
export function createVerifyClient(
  options: HandshakeOptions,
  handshakes: WeakMap<IncomingMessage, Handshake>,
): VerifyClientCallbackAsync {
  const secret =
    options.authSecret === undefined ? undefined : new TextEncoder().encode(options.authSecret);
  const allowed = new Set(options.allowedOrigins);

  async function check(origin: string | undefined, req: IncomingMessage): Promise<Handshake> {
    if (options.isDraining()) throw new AppError('unavailable', 'server is shutting down');
    const { token, ...params } = parseHandshakeParams(handshakeQuery(req.url ?? '/'));
    // Browsers always send Origin; its absence means a non-browser client, which an
    // origin check cannot constrain anyway.
    if (allowed.size > 0 && origin !== undefined && !allowed.has(origin)) {
      throw new AppError('forbidden', 'origin not allowed');
    }
    let claims: { expiresAt: number; teams: string[] } | undefined;
    if (secret) {
      if (token === undefined) throw new AppError('unauthorized', 'token required');
      claims = await verifySocketToken(token, secret, params);
    }
    // After the token: a ban is about a proven identity, and nobody learns of one by guessing.
    if (options.isBanned(params.id, params.teamId)) {
      throw new AppError('banned', 'banned by an admin');
    }
    const ip = clientIp(req, options.trustProxy);
    if (
      options.maxConnectionsPerIp > 0 &&
      options.hub.countForIp(ip) >= options.maxConnectionsPerIp
    ) {
      throw new AppError('rate_limited', 'too many connections from this address');
    }
    if (options.maxConnections > 0 && options.hub.size >= options.maxConnections) {
      throw new AppError('unavailable', 'server is at its connection limit');
    }
    return { params, ip, ...(claims === undefined ? {} : claims) };
  }

  return (info, done) => {
    const origin = typeof info.origin === 'string' && info.origin !== '' ? info.origin : undefined;
    check(origin, info.req).then(
      (handshake) => {
        handshakes.set(info.req, handshake);
        options.hub.holdUpgrade(info.req.socket);
        done(true);
      },
      (err: unknown) => {
        const error = toAppError(err);
        options.metrics.handshakesRejected.inc({ status: String(error.status) });
        options.log.info(
          { path: '/socket', status: error.status, reason: error.message },
          'handshake refused',
        );
        done(
          false,
          error.status,
          JSON.stringify({ error: { code: error.code, message: error.message } }),
          {
            'Content-Type': 'application/json',
          },
        );
      },
    );
  };
}
