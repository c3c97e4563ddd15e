import type { ErrorCode } from '../protocol/errors';

export type { ErrorCode } from '../protocol/errors';

/**
 * The one catalogue of error codes. Every refusal, whether it ends up as an HTTP
 * response or a socket `error` frame, is an AppError with one of these codes, so
 * clients can branch on `code` and never parse messages. The codes themselves are
 * the protocol's (protocol/errors.ts); `satisfies` makes this list them all, and
 * nothing else.
 */
export const errorCatalogue = {
  bad_request: { status: 400, message: 'bad request' },
  unauthorized: { status: 401, message: 'missing or invalid credentials' },
  forbidden: { status: 403, message: 'forbidden' },
  // A handshake refused because an admin banned the user (POST /api/bans).
  banned: { status: 403, message: 'banned by an admin' },
  not_found: { status: 404, message: 'not found' },
  method_not_allowed: { status: 405, message: 'method not allowed' },
  conflict: { status: 409, message: 'already exists' },
  payload_too_large: { status: 413, message: 'payload too large' },
  unsupported_media_type: {
    status: 415,
    message: 'send JSON (Content-Type: application/json)',
  },
  upgrade_required: { status: 426, message: 'this endpoint speaks WebSocket only' },
  rate_limited: { status: 429, message: 'rate limit exceeded' },
  internal: { status: 500, message: 'internal error' },
  not_implemented: { status: 501, message: 'not implemented' },
  unavailable: { status: 503, message: 'a backend is unavailable; retry' },
  // Not 503: that says "not accepted", and a blind retry of a stored message duplicates it.
  indeterminate: {
    status: 504,
    message:
      'the backend did not answer in time; send it again with the same ref to learn whether it was stored',
  },
} as const satisfies Record<ErrorCode, { status: number; message: string }>;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? errorCatalogue[code].message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalogue[code].status;
  }
}

/**
 * A library's status maps to the first, general code with it: `forbidden`, never
 * `banned`, which only our own checks raise.
 */
const codeByStatus = new Map<number, ErrorCode>();
for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
  const { status } = errorCatalogue[code];
  if (!codeByStatus.has(status)) codeByStatus.set(status, code);
}

/**
 * Maps anything thrown to the catalogue. Errors from libraries that carry an
 * exposed 4xx status (koa-bodyparser, @koa/router, http-errors) keep their status;
 * everything else is `internal`, and its message is never shown to the client.
 */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (typeof err === 'object' && err !== null) {
    const e = err as {
      status?: unknown;
      statusCode?: unknown;
      expose?: unknown;
      message?: unknown;
    };
    const status = typeof e.status === 'number' ? e.status : e.statusCode;
    // 4xx and 501 (an unknown method, from @koa/router) are the client's doing, not ours.
    if (typeof status === 'number' && ((status >= 400 && status < 500) || status === 501)) {
      const code = codeByStatus.get(status) ?? 'bad_request';
      const message = e.expose === true && typeof e.message === 'string' ? e.message : undefined;
      return new AppError(code, message, { cause: err });
    }
  }
  return new AppError('internal', undefined, { cause: err });
}
