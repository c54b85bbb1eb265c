/**
 * The Grafana provisioning in deploy/grafana: every dashboard parses, uses only the provisioned
 * data sources, and names only metrics the Metrics registry declares and tables the ClickHouse
 * migrations create. The lists come from the code, so renaming a metric or a table fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { MIGRATIONS_DIR } from '@aispm/clickhouse';
import { Metrics } from '@aispm/observability';

const GRAFANA = path.resolve(__dirname, '../../deploy/grafana');

interface Target {
  datasource?: { uid?: string };
  expr?: string;
  rawSql?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: { title: string; datasource?: { uid?: string }; targets?: Target[] }[];
  templating?: { list: { name: string; datasource?: { uid?: string }; query: string | { query: string } }[] };
}

/** Metric names a PromQL expression may use: every registry metric, and a histogram's series. */
function knownMetrics(): Set<string> {
  const names = new Set<string>();
  for (const metric of new Metrics('grafana-test').registry.getMetricsAsArray()) {
    names.add(metric.name);
    if (metric.type === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  return names;
}

/** Tables the migrations create. */
function knownTables(): Set<string> {
  const tables = new Set<string>();
  for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.up.sql'))) {
    const text = readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8');
    for (const match of text.matchAll(/CREATE TABLE IF NOT EXISTS \{database\}\.([a-z_][a-z0-9_]*)/gi)) {
      tables.add(match[1]!);
    }
  }
  return tables;
}

/** Identifiers in a PromQL expression that name a metric (not a function, label or keyword). */
function metricsIn(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/\b([a-z_:][a-z0-9_:]*)\b(?!\s*\()/gi)]
    .map((m) => m[1]!)
    .filter((name) => /_/.test(name) && !/^(group_left|group_right)$/.test(name));
}

function tablesIn(sql: string): string[] {
  return [...sql.matchAll(/\b(?:FROM|JOIN)\s+(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*)/gi)].map((m) => m[1]!);
}

const datasources = yaml.load(
  readFileSync(path.join(GRAFANA, 'provisioning/datasources/aispm.yml'), 'utf8'),
) as { datasources: { uid: string; type: string }[] };
const uids = new Map(datasources.datasources.map((d) => [d.uid, d.type]));
const files = readdirSync(path.join(GRAFANA, 'dashboards')).filter((f) => f.endsWith('.json'));

describe('Grafana dashboards', () => {
  const metrics = knownMetrics();
  const tables = knownTables();

  it('ships a Prometheus and a ClickHouse dashboard', () => {
    expect(files.sort()).toEqual(['pipeline-health.json', 'tenant-posture.json']);
    expect([...uids.values()].sort()).toEqual(['grafana-clickhouse-datasource', 'prometheus']);
  });

  it('knows the platform metrics and tables it checks against', () => {
    expect(metrics).toContain('aispm_consumer_lag_messages');
    expect(metrics).toContain('aispm_end_to_end_latency_ms_bucket');
    expect(tables).toEqual(new Set(['events', 'audit_log', ...tables]));
    expect(tables).toContain('health_evidence');
  });

  it.each(files)('%s parses and names only existing metrics and tables', (file) => {
    const dashboard = JSON.parse(readFileSync(path.join(GRAFANA, 'dashboards', file), 'utf8')) as Dashboard;
    expect(dashboard.uid).toMatch(/^aispm-/);
    expect(dashboard.panels.length).toBeGreaterThan(3);
    const queries: { where: string; uid: string; text: string }[] = [];
    for (const panel of dashboard.panels) {
      expect([panel.title, panel.targets?.length ?? 0]).toEqual([panel.title, expect.any(Number)]);
      for (const target of panel.targets ?? []) {
        const uid = target.datasource?.uid ?? panel.datasource?.uid ?? '';
        queries.push({ where: panel.title, uid, text: target.expr ?? target.rawSql ?? '' });
      }
    }
    for (const variable of dashboard.templating?.list ?? []) {
      const text = typeof variable.query === 'string' ? variable.query : variable.query.query;
      queries.push({ where: `$${variable.name}`, uid: variable.datasource?.uid ?? '', text });
    }
    for (const { where, uid, text } of queries) {
      expect([where, uids.has(uid)]).toEqual([where, true]);
      expect([where, text.length > 0]).toEqual([where, true]);
      if (uids.get(uid) === 'prometheus') {
        const used = metricsIn(text);
        expect([where, used.length > 0]).toEqual([where, true]);
        for (const name of used) expect([where, name, metrics.has(name)]).toEqual([where, name, true]);
      } else {
        const used = tablesIn(text);
        expect([where, used.length > 0]).toEqual([where, true]);
        for (const table of used) expect([where, table, tables.has(table)]).toEqual([where, table, true]);
      }
    }
  });

  it('finds a metric or table that does not exist', () => {
    expect(metricsIn('sum by (le) (rate(aispm_no_such_metric_bucket{tenant=~"$tenant"}[5m]))')).toEqual([
      'aispm_no_such_metric_bucket',
    ]);
    expect(metrics.has('aispm_no_such_metric_bucket')).toBe(false);
    expect(tablesIn("SELECT 1 FROM aispm.no_such_table FINAL WHERE tenant = 'a'")).toEqual(['no_such_table']);
  });
});
