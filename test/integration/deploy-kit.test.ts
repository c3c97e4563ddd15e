import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server';
import { describeWithRedis, freePort, RedisServer } from '../helpers/redis-server';

/**
 * deploy/: the Grafana dashboard and the Prometheus alert rules name metrics by
 * hand. Each name must be one a real node exports, or a panel stays empty and an
 * alert never fires, silently.
 */
const deploy = join(__dirname, '../../deploy');

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description?: string };
}

const rules = (
  parse(readFileSync(join(deploy, 'prometheus/alerts.yml'), 'utf8')) as {
    groups: { name: string; rules: Rule[] }[];
  }
).groups.flatMap((g) => g.rules);

interface Panel {
  id: number;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { expr: string; datasource: { uid: string } }[];
}

const dashboard = JSON.parse(readFileSync(join(deploy, 'grafana/switchboard.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
};

const exprs = [
  ...rules.map((r) => r.expr),
  ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
];
const named = new Set(
  exprs.flatMap((e) => [...e.matchAll(/\bswitchboard_[a-z0-9_]+/g)].map((m) => m[0])),
);

/** A histogram's series carry suffixes its `# TYPE` line does not. */
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

async function scrape(server: TestServer): Promise<string> {
  const res = await fetch(`${server.http}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return res.text();
}

const exported = (text: string) =>
  new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

test('every alert rule is complete: expression, duration, severity and a summary', () => {
  expect(rules.length).toBeGreaterThanOrEqual(8);
  for (const rule of rules) {
    expect(rule.alert).toMatch(/^Switchboard[A-Za-z]+$/);
    expect(rule.expr.length).toBeGreaterThan(0);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    expect(['page', 'warn']).toContain(rule.labels.severity);
    expect(rule.annotations.summary.length).toBeGreaterThan(0);
  }
  expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
});

test('the dashboard is importable: unique panel ids, a datasource input, panels inside the grid', () => {
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const panel of dashboard.panels) {
    expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    expect(panel.targets.length).toBeGreaterThan(0);
    for (const target of panel.targets) expect(target.datasource.uid).toBe('${DS_PROMETHEUS}');
  }
});

test('the kit covers what operators are paged for', () => {
  const alerts = rules.map((r) => r.alert);
  for (const name of [
    'SwitchboardNodeNotReady',
    'SwitchboardRedisDown',
    'SwitchboardArchiveBacklogGrowing',
    'SwitchboardDeadLetters',
    'SwitchboardSlowConsumers',
  ])
    expect(alerts).toContain(name);
});

describeWithRedis('deploy kit against real nodes', () => {
  let redis: RedisServer;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await redis.stop();
  });

  test('every metric the dashboard and the alerts name is exported by a node', async () => {
    const server = await startTestServer({ REDIS_URL: redis.url });
    servers.push(server);
    const text = await scrape(server);
    const missing = [...named].filter((name) => !exported(text).has(family(name)));
    expect(missing).toEqual([]);
    expect(named.size).toBeGreaterThanOrEqual(10);
    // What SwitchboardRedisDown and SwitchboardNodeNotReady select, as a healthy node reports it.
    expect(text).toMatch(/^switchboard_backend_up\{backend="redis"\} 1$/m);
    expect(text).toMatch(/^switchboard_ready 1$/m);
  });

  test('a node whose SQL Server is down reports it, and is not ready', async () => {
    const server = await startTestServer({
      MSSQL_URL: `Server=127.0.0.1,${await freePort()};Database=switchboard;User Id=sa;Password=not-used;Encrypt=false`,
    });
    servers.push(server);
    const text = await scrape(server);
    expect(text).toMatch(/^switchboard_backend_up\{backend="db"\} 0$/m);
    expect(text).toMatch(/^switchboard_ready 0$/m);
    // The memory engine has no Redis to report on.
    expect(text).not.toMatch(/backend="redis"/);
  });
});
