import type { Ack } from './types';

/**
 * Makes a send idempotent per key: within the TTL the first result is returned
 * again and `produce` is not run. A failed `produce` is forgotten so a retry works.
 */
export interface Idempotency {
  once(key: string, produce: () => Promise<Ack>): Promise<Ack>;
  close(): Promise<void>;
}
