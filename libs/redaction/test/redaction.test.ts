import { publicExampleEnvelope } from '../../../test/support/fixtures';
import { passThroughRedactor } from '../src';

const example = publicExampleEnvelope();

describe('passThroughRedactor', () => {
  it('passes the envelope through and says it redacted nothing', () => {
    const { envelope, report } = passThroughRedactor(example);
    expect(envelope).toEqual(example);
    expect(report).toEqual({ redactor: 'pass-through', counts: {}, pointers: [] });
  });
});
