import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  CAVRA_CONTRACTS_DIR,
  contentHash,
  loadSchema,
  parseTenantTopic,
  PUBLIC_EXAMPLE_PATH,
  SCHEMA_DIR,
  SCHEMA_NAMES,
  SHARED_TOPICS,
  TENANT_SLUG,
  TENANT_STAGES,
  tenantTopic,
  TOPIC_SCHEMAS,
  validatorFor,
} from '../src';

const repoRoot = path.resolve(__dirname, '../../..');

describe('topics', () => {
  it('names tenant topics per DESIGN §2 and parses them back', () => {
    for (const stage of TENANT_STAGES) {
      const topic = tenantTopic('acme-corp', stage);
      expect(topic).toBe(`aispm.acme-corp.${stage}`);
      expect(parseTenantTopic(topic)).toEqual({ tenant: 'acme-corp', stage });
    }
    expect(parseTenantTopic(SHARED_TOPICS.control)).toBeUndefined();
  });

  it.each(['A', 'a', '-ab', 'a_b', 'x'.repeat(64), 'ab.cd'])('refuses the slug %j', (slug) => {
    expect(() => tenantTopic(slug, 'raw')).toThrow(/TENANT_INVALID_SLUG|does not match/);
  });

  it('is the tenant slug rule the schemas spell as a pattern', () => {
    const patterns: unknown[] = [];
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      const properties = (node as { properties?: Record<string, { pattern?: unknown }> }).properties;
      for (const field of ['tenant', 'slug']) {
        if (properties?.[field]?.pattern !== undefined) patterns.push(properties[field].pattern);
      }
      Object.values(node).forEach(visit);
    };
    SCHEMA_NAMES.forEach((name) => visit(loadSchema(name)));
    expect(patterns.length).toBeGreaterThanOrEqual(3);
    expect(new Set(patterns)).toEqual(new Set([TENANT_SLUG.source]));
  });

  it('gives every topic a schema that exists', () => {
    const topics = [...TENANT_STAGES, ...Object.keys(SHARED_TOPICS)];
    for (const topic of topics) {
      const name = TOPIC_SCHEMAS[topic as keyof typeof TOPIC_SCHEMAS];
      expect(SCHEMA_NAMES).toContain(name);
      expect(loadSchema(name).$id).toEqual(expect.any(String));
    }
  });
});

describe('schemas', () => {
  it('lists every schema file', () => {
    const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.schema.json'));
    expect(files.map((f) => f.replace('.schema.json', '')).sort()).toEqual([...SCHEMA_NAMES].sort());
  });

  it('ships the envelope exactly as the public contract, plus an $id', () => {
    const publicContract = JSON.parse(
      readFileSync(
        path.join(CAVRA_CONTRACTS_DIR, 'aispm-enterprise-live-ingestion-envelope.schema.json'),
        'utf8',
      ),
    );
    const { $id, ...ours } = loadSchema('envelope.v1');
    expect($id).toEqual(expect.any(String));
    expect(ours).toEqual(publicContract);
  });

  it('accepts the public example envelope', () => {
    const example = JSON.parse(readFileSync(PUBLIC_EXAMPLE_PATH, 'utf8'));
    const validate = validatorFor('envelope.v1');
    expect(validate(example)).toBe(true);
    expect(validate({ ...example, event: { ...example.event, occurred_at: 'yesterday' } })).toBe(false);
  });

  it('has generated types in step with the schemas', () => {
    expect(() =>
      execFileSync(process.execPath, [path.join(repoRoot, 'scripts/gen-types.js'), '--check'], {
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });
});

describe('contentHash', () => {
  it('ignores what a retry may change, and nothing else', () => {
    const example = JSON.parse(readFileSync(PUBLIC_EXAMPLE_PATH, 'utf8'));
    const retried = {
      ...example,
      transport: { ...example.transport, retry_count: 3 },
      event: { ...example.event, received_at: '2026-06-11T08:00:09Z' },
    };
    expect(contentHash(retried)).toBe(contentHash(example));
    expect(contentHash({ ...example, event: { ...example.event, decision: 'allow' } })).not.toBe(
      contentHash(example),
    );
  });
});
