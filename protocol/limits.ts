/**
 * The fixed limits of the protocol (docs/PROTOCOL.md §9), the ones no setting
 * changes. Configurable limits (MAX_MESSAGE_BYTES and the like) live in app/config.ts.
 */

/** Longest user or team id; ids are ASCII, so this is also their length in UTF-16 units. */
export const MAX_ID_LENGTH = 64;

/** Longest display name, in code points (up to twice as many UTF-16 units). */
export const MAX_NAME_CODE_POINTS = 100;

/** Longest `ref`, the client's idempotency key. */
export const MAX_REF_LENGTH = 64;

/** Longest `epoch` a client may hand back on resume. */
export const MAX_EPOCH_LENGTH = 64;

/** Longest handshake `token`. */
export const MAX_TOKEN_LENGTH = 4096;

/** Deepest nesting of arrays and objects accepted in message `data`. */
export const MAX_DATA_DEPTH = 64;

/** `limit` of a `history` frame (and the REST messages route) when none is given. */
export const HISTORY_DEFAULT_LIMIT = 50;

/** Larger `limit`s are clamped to this rather than refused, like most paginated APIs. */
export const HISTORY_MAX_LIMIT = 200;
