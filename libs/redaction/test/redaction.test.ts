import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Envelope } from '@aispm/contracts';
import { passThroughRedactor } from '../src';

const example = JSON.parse(
  readFileSync(
    path.resolve(
      __dirname,
      '../../../../shared/contracts/enterprise-live-ingestion-envelope-public-contract.example.json',
    ),
    'utf8',
  ),
) as Envelope;

describe('passThroughRedactor', () => {
  it('passes the envelope through and says it redacted nothing', () => {
    const { envelope, report } = passThroughRedactor(example);
    expect(envelope).toEqual(example);
    expect(report).toEqual({ redactor: 'pass-through', counts: {}, pointers: [] });
  });
});
