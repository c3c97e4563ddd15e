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

export interface Readiness {
  ready: boolean;
  status: 'ok' | 'draining' | 'unavailable';
  checks: { redis: CheckState; db: CheckState };
}

/** What /api/ready answers and `switchboard_ready` reports: one judgement for both. */
export async function readiness(checks: HealthChecks, draining: boolean): Promise<Readiness> {
  const [redis, db] = await Promise.all([
    checks.redis().catch(() => 'down' as const),
    checks.db().catch(() => 'down' as const),
  ]);
  const down = redis === 'down' || db === 'down';
  return {
    ready: !draining && !down,
    status: draining ? 'draining' : down ? 'unavailable' : 'ok',
    checks: { redis, db },
  };
}
