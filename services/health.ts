export type CheckState = 'up' | 'down' | 'disabled';

/** One probe per backend, for /api/ready. */
export interface HealthChecks {
  redis(): Promise<CheckState>;
  db(): Promise<CheckState>;
}

export const disabledChecks: HealthChecks = {
  redis: async () => 'disabled',
  db: async () => 'disabled',
};
