import type { ControlCollector, ControlTenant } from '@aispm/contracts';
import { AppError } from '@aispm/errors';
import { publicExampleEnvelope } from '../../../test/support/fixtures';
import { admit, MAX_ARRAY_ITEMS, MAX_STRING_LENGTH } from '../src/admission';

const tenant = { slug: 'acme', tenant_ref: 'tenant:acme' } as ControlTenant;
const collector = {
  collector_id: 'col_1',
  scopes: { connector_types: [], connector_ids: [], repositories: [], environments: [], event_types: [] },
} as unknown as ControlCollector;
const NOW = Date.parse('2026-06-11T08:00:05Z');

function envelope() {
  const item = publicExampleEnvelope();
  item.tenant.tenant_ref = tenant.tenant_ref;
  return item;
}

function refusal(item: unknown): AppError {
  try {
    admit(item, collector, tenant, NOW, { maxFutureSkewMs: 60_000 });
  } catch (error) {
    return error as AppError;
  }
  throw new Error('admitted');
}

describe('admit', () => {
  it('admits the public example', () => {
    const item = envelope();
    expect(admit(item, collector, tenant, NOW, { maxFutureSkewMs: 60_000 })).toBe(item);
  });

  it('names the pointer of every over-long string and over-long array', () => {
    const item = envelope();
    item.event.evidence_refs = Array.from({ length: MAX_ARRAY_ITEMS + 1 }, (_, i) =>
      i === 7 ? `cavra://${'x'.repeat(MAX_STRING_LENGTH)}` : `cavra://evidence/${i}`,
    );
    item.event.target_summary = 'y'.repeat(MAX_STRING_LENGTH + 1);
    const error = refusal(item);
    expect(error.code).toBe('GW_SEMANTIC_INVALID');
    expect(error.fields).toEqual(
      expect.arrayContaining([
        { pointer: '/event/evidence_refs', detail: `more than ${MAX_ARRAY_ITEMS} items` },
        { pointer: '/event/evidence_refs/7', detail: `longer than ${MAX_STRING_LENGTH} characters` },
        { pointer: '/event/target_summary', detail: `longer than ${MAX_STRING_LENGTH} characters` },
      ]),
    );
  });
});
