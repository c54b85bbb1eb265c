import {
  ndjsonLine,
  reinjection,
  replayAuditDetail,
  toReplayLine,
  type ReplayRecord,
  type ReplaySpec,
} from '../src';

const record: ReplayRecord = {
  partition: 2,
  offset: '41',
  timestampMs: 1700000000000,
  key: Buffer.from('sess-1'),
  value: Buffer.from([0, 0, 0, 0, 7, 123, 125]),
  headers: { 'aispm-event-id': 'e1' },
  decoded: { hello: 'world' },
};

describe('toReplayLine', () => {
  const spec: ReplaySpec = { tenant: 'acme', stage: 'normalized' };

  it('carries the position, key, headers and decoded value', () => {
    expect(toReplayLine(spec, 'aispm.acme.normalized', record)).toEqual({
      tenant: 'acme',
      stage: 'normalized',
      topic: 'aispm.acme.normalized',
      partition: 2,
      offset: '41',
      timestamp_ms: 1700000000000,
      key: 'sess-1',
      headers: { 'aispm-event-id': 'e1' },
      value: { hello: 'world' },
    });
  });

  it('keeps the bytes of a record that could not be decoded, with the reason', () => {
    const line = toReplayLine(spec, 't', {
      ...record,
      key: null,
      decoded: null,
      error: { code: 'KAFKA_DECODE_FAILED', message: 'bad' },
    });
    expect(line.value).toBeNull();
    expect(line.key).toBeNull();
    expect(line.error).toEqual({ code: 'KAFKA_DECODE_FAILED', message: 'bad' });
    expect(Buffer.from(line.value_base64!, 'base64')).toEqual(record.value);
  });
});

describe('reinjection', () => {
  it('sends a raw record back to the raw topic with its bytes, key and headers', () => {
    expect(reinjection({ tenant: 'acme', stage: 'raw' }, record)).toEqual({
      topic: 'aispm.acme.raw',
      message: { key: record.key, value: record.value, headers: record.headers },
    });
  });

  const dead = (topic: string): ReplayRecord => ({
    ...record,
    decoded: {
      schema_version: 'aispm.dlq_record.v1',
      service: 'redactor',
      code: 'STAGE_CORE_FAILED',
      message: 'x',
      source: { topic, partition: 0, offset: '3' },
      original_key: 'sess-9',
      original_base64: Buffer.from('original').toString('base64'),
      failed_ms: 1,
    },
  });

  it('sends a dead letter back to the topic it failed on, with its original bytes and key', () => {
    expect(reinjection({ tenant: 'acme', stage: 'dlq' }, dead('aispm.acme.redacted'))).toEqual({
      topic: 'aispm.acme.redacted',
      message: { key: 'sess-9', value: Buffer.from('original'), headers: record.headers },
    });
  });

  it('never sends a dead letter into another tenant or a stage no worker consumes', () => {
    expect(reinjection({ tenant: 'acme', stage: 'dlq' }, dead('aispm.other.raw'))).toBeUndefined();
    expect(reinjection({ tenant: 'acme', stage: 'dlq' }, dead('aispm.acme.posture'))).toBeUndefined();
    expect(reinjection({ tenant: 'acme', stage: 'dlq' }, dead('aispm.control'))).toBeUndefined();
  });

  it('does not reinject from other stages', () => {
    expect(reinjection({ tenant: 'acme', stage: 'normalized' }, record)).toBeUndefined();
  });
});

describe('replayAuditDetail', () => {
  it('records the request, the non-empty ranges and the offset count, never content', () => {
    expect(
      replayAuditDetail(
        { tenant: 'acme', stage: 'raw', from: { timeMs: 0 }, to: { offset: '9' }, rate: 5 },
        'aispm.acme.raw',
        [
          { partition: 0, from: '0', to: '10' },
          { partition: 1, from: '4', to: '4' },
        ],
        'read',
        'api',
      ),
    ).toEqual({
      stage: 'raw',
      topic: 'aispm.acme.raw',
      mode: 'read',
      via: 'api',
      from: 'time 1970-01-01T00:00:00.000Z',
      to: 'offset 9',
      rate: 5,
      ranges: [{ partition: 0, from: '0', to: '10' }],
      offsets: 10,
    });
  });
});

describe('ndjsonLine', () => {
  const line = toReplayLine({ tenant: 'acme', stage: 'raw' }, 't', record);

  it('splices the value text into the line, which parses to the same object', () => {
    const text = ndjsonLine(line, '{"hello":"world"}');
    expect(text).toBe(JSON.stringify(line));
    expect(JSON.parse(text)).toEqual(line);
  });

  it('serialises anew when the text spans lines, or there is none', () => {
    const spread = ndjsonLine(line, '{\n  "hello": "world"\n}');
    expect(spread).not.toContain('\n');
    expect(JSON.parse(spread)).toEqual(line);
    expect(ndjsonLine(line, undefined)).toBe(JSON.stringify(line));
  });
});
