/**
 * docker-compose.yml is for users with Docker; no engine runs here, so Debian's docker-compose
 * validates it (`config` parses and resolves the file without an engine) and the test checks the
 * stack it describes: every part, built from the one Dockerfile, started in dependency order
 * behind healthchecks.
 */
import { execFileSync } from 'node:child_process';
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
  const pipeline = ['ingest-gateway', 'redactor', 'normalizer', 'projector'];

  it('describes the whole stack', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'kafka', 'registry', ...pipeline].sort());
  });

  it('gives every part a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.healthcheck?.test]).toEqual([name, expect.anything()]);
    }
  });

  it('builds the four services from the one Dockerfile and starts them after healthy servers', () => {
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

  it('runs a current ClickHouse and Kafka 4 in KRaft mode', () => {
    expect(services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:(2[4-9]|[3-9]\d)\./);
    expect(services.kafka!.image).toMatch(/^apache\/kafka:4\./);
    expect(services.kafka!.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });
});
