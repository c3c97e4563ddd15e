import type { ConnectionInfo } from '../../services/types';

/** A connection of user `userId` (named after it) on `node`, in team T unless told. */
export function connectionInfo(
  connId: string,
  userId: string,
  node: string,
  teamId = 'T',
): ConnectionInfo {
  return {
    connId,
    userId,
    name: userId,
    teamId,
    node,
    ip: '127.0.0.1',
    connectedAt: new Date().toISOString(),
  };
}
