import { randomUUID } from 'node:crypto';

export interface PerTestIds {
  /** `name` with the running test's prefix. */
  id(name: string): string;
  /** Whether `id` was made by `id()` in the running test. */
  ours(id: string): boolean;
}

/**
 * For a describe block over a backend whose state outlives a test (Redis, SQL):
 * a prefix renewed before each test, so tests never see each other's records.
 */
export function perTestIds(): PerTestIds {
  let prefix = '';
  beforeEach(() => {
    prefix = `${randomUUID().slice(0, 8)}-`;
  });
  return {
    id: (name) => `${prefix}${name}`,
    ours: (id) => id.startsWith(prefix),
  };
}
