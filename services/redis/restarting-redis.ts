import { Redis } from 'ioredis';

/**
 * A Redis client that knows whether its owner closed it. ioredis ends a client for
 * good (status `end`, every command then "Connection is closed.") not only when it is
 * closed but also when its connector, rather than its connection, fails: a Sentinel
 * client whose previous connection's failover detector hears +switch-master while it
 * is asking a sentinel for the new master. Only `disconnect()` and `quit()` (which
 * close first, or call `disconnect()` when not connected) tell the two apart, so
 * `keepConnecting` (connection.ts) can start the other kind again.
 */
export class RestartingRedis extends Redis {
  private closedByOwner = false;

  /** True once `disconnect()` was called without asking to reconnect. */
  get stopped(): boolean {
    return this.closedByOwner;
  }

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closedByOwner = true;
    super.disconnect(reconnect);
  }
}
