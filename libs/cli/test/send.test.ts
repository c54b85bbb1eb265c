import type { Envelope } from '@aispm/contracts';
import { parseSendInput, receiptsFor } from '../src/send';

const envelope = (id: string) => ({ event: { event_id: id } }) as unknown as Envelope;

describe('parseSendInput', () => {
  it('reads one envelope, an array, or NDJSON', () => {
    expect(parseSendInput('{"event":{"event_id":"a"}}')).toEqual([{ line: 1, envelope: envelope('a') }]);
    expect(parseSendInput(' [{"event":{"event_id":"a"}},{"event":{"event_id":"b"}}]\n')).toEqual([
      { line: 1, envelope: envelope('a') },
      { line: 1, envelope: envelope('b') },
    ]);
    expect(parseSendInput('{"event":{"event_id":"a"}}\n\n{"event":{"event_id":"b"}}\n')).toEqual([
      { line: 1, envelope: envelope('a') },
      { line: 3, envelope: envelope('b') },
    ]);
    expect(parseSendInput('  \n')).toEqual([]);
  });

  it('makes a bad line an item of its own, and keeps the others', () => {
    const items = parseSendInput('{"event":{"event_id":"a"}}\n{oops\n42\n{"event":{"event_id":"b"}}');
    expect(items.map((item) => ('envelope' in item ? 'envelope' : item.error.split(':')[0]))).toEqual([
      'envelope',
      'not JSON',
      'an item must be a JSON object (an envelope)',
      'envelope',
    ]);
    expect(items.map((item) => item.line)).toEqual([1, 2, 3, 4]);
  });
});

describe('receiptsFor', () => {
  it('joins each item with its receipt, by spool file', () => {
    const items = parseSendInput(
      '{"event":{"event_id":"a"}}\n[]\n{"event":{"event_id":"b"}}\n{"event":{"event_id":"c"}}',
    );
    const settled = new Map([
      ['f-a', { outcome: 'accepted' as const, event_id: 'a', topic: 't', partition: 0, offset: '1' }],
      ['f-b', { outcome: 'rejected' as const, event_id: null, code: 'GW_SCHEMA_INVALID', reason: 'bad' }],
    ]);
    expect(receiptsFor(items, ['f-a', undefined, 'f-b', 'f-c'], settled, 'HTTP 503')).toEqual([
      { item: 0, line: 1, outcome: 'accepted', event_id: 'a', topic: 't', partition: 0, offset: '1' },
      {
        item: 1,
        line: 2,
        event_id: null,
        outcome: 'invalid',
        code: 'CLI_BAD_INPUT',
        reason: 'an item must be a JSON object (an envelope)',
      },
      { item: 2, line: 3, outcome: 'rejected', event_id: 'b', code: 'GW_SCHEMA_INVALID', reason: 'bad' },
      {
        item: 3,
        line: 4,
        event_id: 'c',
        outcome: 'pending',
        reason: 'still spooled for the next send or collector run: HTTP 503',
      },
    ]);
  });
});
