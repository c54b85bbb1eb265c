/**
 * docker-compose.yml is for users with Docker; no engine runs here, so Debian's docker-compose
 * validates it (`config` parses and resolves the file without an engine) and the test checks the
 * stack it describes: every part, built from the one Dockerfile, started in dependency order
 * behind healthchecks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { REPO } from '../support/platform';

interface ComposeService {
  image?: string;
  build?: { context: string } | string;
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}

function composeConfig(): { services: Record<string, ComposeService> } {
  const resolved = execFileSync('docker-compose', ['-f', path.join(REPO, 'docker-compose.yml'), 'config'], {
    encoding: 'utf8',
  });
  return yaml.load(resolved) as { services: Record<string, ComposeService> };
}

describe('docker-compose.yml', () => {
  const { services } = composeConfig();
  const pipeline = ['ingest-gateway', 'api', 'redactor', 'normalizer', 'projector'];

  it('describes the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['clickhouse', 'kafka', 'registry', 'prometheus', 'grafana', 'ingress', ...pipeline].sort(),
    );
  });

  it('scrapes every service with Prometheus and provisions Grafana with the dashboards', () => {
    const scrape = yaml.load(readFileSync(path.join(REPO, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    const targets = scrape.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
    expect(targets.map((t) => t.split(':')[0]).sort()).toEqual([...pipeline].sort());
    // Each on the ops port its service listens on, where /metrics is.
    for (const target of targets) {
      const [name, port] = target.split(':');
      const environment = services[name!]!.environment as Record<string, unknown>;
      expect([name, port]).toEqual([name, String(environment.AISPM_OPS_PORT)]);
    }
    const grafana = services.grafana as ComposeService & {
      volumes: (string | { source: string; target: string })[];
    };
    const mounts = grafana.volumes.map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    expect(mounts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/deploy\/grafana\/provisioning:\/etc\/grafana\/provisioning/),
        expect.stringMatching(/deploy\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards/),
      ]),
    );
  });

  it('gives every part a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.healthcheck?.test]).toEqual([name, expect.anything()]);
    }
  });

  it('builds the five services from the one Dockerfile and starts them after healthy servers', () => {
    for (const name of pipeline) {
      const service = services[name]!;
      expect(service.build).toBeDefined();
      expect(service.environment?.SERVICE).toBe(name);
      expect(service.depends_on).toEqual({
        kafka: { condition: 'service_healthy' },
        registry: { condition: 'service_healthy' },
        clickhouse: { condition: 'service_healthy' },
      });
    }
  });

  it('routes collectors to the gateway and everything else to the API behind one ingress', () => {
    const conf = readFileSync(path.join(REPO, 'deploy/ingress/nginx.conf'), 'utf8');
    const routed = [...conf.matchAll(/location (=\s)?(\S+) \{ proxy_pass http:\/\/(\w+); \}/g)].map(
      ([, , location, upstream]) => `${location} ${upstream}`,
    );
    expect(routed).toEqual(
      expect.arrayContaining([
        '/enterprise/aispm/events gateway',
        '/enterprise/aispm/events/batch gateway',
        '/v1/logs gateway',
        '/enterprise/aispm/webhooks/ gateway',
        '/enterprise/aispm/hooks/ gateway',
        '/ api',
      ]),
    );
    expect(services.ingress!.depends_on).toEqual({
      'ingest-gateway': { condition: 'service_healthy' },
      api: { condition: 'service_healthy' },
    });
  });

  it('runs a current ClickHouse and Kafka 4 in KRaft mode', () => {
    // The same major release as the local server the suites run (chdb-core, deploy/local/env.sh).
    const local = /CLICKHOUSE_CHDB_VERSION:-(\d+)\./.exec(
      readFileSync(path.join(REPO, 'deploy/local/env.sh'), 'utf8'),
    );
    expect(services.clickhouse!.image).toMatch(new RegExp(`^clickhouse/clickhouse-server:${local![1]}\\.`));
    expect(services.kafka!.image).toMatch(/^apache\/kafka:4\./);
    expect(services.kafka!.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });
});
