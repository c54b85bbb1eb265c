/**
 * Every ClickHouse query of the Grafana dashboards runs on the real server (18.16 here), against
 * a database built by the migrations, with Grafana's macros and variables filled in as the
 * ClickHouse data source would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { migrate } from '@aispm/clickhouse';
import { clickhouse, REPO, uniqueSuffix } from '../support/platform';

const DASHBOARDS = path.join(REPO, 'deploy/grafana/dashboards');

function clickHouseQueries(): { where: string; sql: string }[] {
  return readdirSync(DASHBOARDS).flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(path.join(DASHBOARDS, file), 'utf8')) as {
      panels: { title: string; targets?: { rawSql?: string }[] }[];
      templating?: { list: { name: string; query: unknown }[] };
    };
    const panels = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((t) =>
        t.rawSql ? [{ where: `${file}: ${panel.title}`, sql: t.rawSql }] : [],
      ),
    );
    const variables = (dashboard.templating?.list ?? []).flatMap((v) =>
      typeof v.query === 'string' && /^SELECT/i.test(v.query)
        ? [{ where: `${file}: $${v.name}`, sql: v.query }]
        : [],
    );
    return [...panels, ...variables];
  });
}

describe('Grafana ClickHouse queries', () => {
  const database = `aispm_grafana_${uniqueSuffix()}`;
  const ch = clickhouse();

  beforeAll(async () => {
    await migrate(ch, database);
  });

  afterAll(async () => {
    await ch.command(`DROP DATABASE IF EXISTS ${database}`);
    await ch.close();
  });

  it('has queries to check', () => {
    expect(clickHouseQueries().length).toBeGreaterThan(5);
  });

  it.each(clickHouseQueries())('$where runs on the server', async ({ sql }) => {
    const filled = sql
      .replaceAll('aispm.', `${database}.`)
      .replaceAll('${tenant}', 'acme')
      .replace(/\$__timeFilter\((\w+)\)/g, '$1 >= now() - 86400 AND $1 <= now()');
    await expect(ch.query(filled)).resolves.toEqual(expect.any(Array));
  });
});
