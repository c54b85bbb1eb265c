import { readFileSync } from 'node:fs';
import path from 'node:path';
import { otlpDrafts } from '@aispm/collector';
import { AppError } from '@aispm/errors';
import { checkOtlpJson } from '../src/plugins/collectors';

const fixture = () =>
  JSON.parse(
    readFileSync(path.join(__dirname, '../../../test/fixtures/collectors/otlp-logs.json'), 'utf8'),
  ) as Record<string, unknown>;

function refusal(body: unknown): AppError {
  try {
    checkOtlpJson(body);
  } catch (error) {
    return error as AppError;
  }
  throw new Error('accepted');
}

/** A log record whose one attribute's value is a kvlist nested `depth` levels deep. */
function nested(depth: number) {
  let value: unknown = { stringValue: 'leaf' };
  for (let level = 0; level < depth; level += 1) value = { kvlistValue: { values: [{ key: 'k', value }] } };
  return {
    resourceLogs: [
      {
        scopeLogs: [
          {
            logRecords: [
              { body: { stringValue: 'claude_code.tool_decision' }, attributes: [{ key: 'a', value }] },
            ],
          },
        ],
      },
    ],
  };
}

describe('checkOtlpJson', () => {
  it('accepts what the protobuf JSON mapping allows', () => {
    for (const body of [
      fixture(),
      {},
      { resourceLogs: null },
      { resourceLogs: [] },
      { resource_logs: 'spelled as in the .proto file, not checked' },
      { futureField: { anything: true } },
      {
        resourceLogs: [
          {
            scopeLogs: [
              {
                logRecords: [
                  {
                    timeUnixNano: 1781164800000000000,
                    severityNumber: 'SEVERITY_NUMBER_INFO',
                    traceId: '5b8efff798038103d269b633813fc60c',
                    spanId: 'eee19b7ec3c1b174',
                    body: { intValue: '42' },
                  },
                ],
              },
            ],
          },
        ],
      },
      nested(100),
    ]) {
      expect(checkOtlpJson(body)).toBe(body);
    }
  });

  it.each([
    ['a top-level array', [{ resourceLogs: [] }]],
    ['a string', 'resourceLogs'],
    ['null', null],
    ['resourceLogs not an array', { resourceLogs: 'x' }],
    ['resourceLogs an object', { resourceLogs: { x: 1 } }],
    ['scopeLogs a number', { resourceLogs: [{ scopeLogs: 5 }] }],
    ['a resource that is no message', { resourceLogs: [{ resource: true }] }],
    ['attributes an object', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: { a: 1 } }] }] }] }],
  ])('refuses %s with GW_BAD_REQUEST', (_what, body) => {
    const error = refusal(body);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('GW_BAD_REQUEST');
    expect(error.message).toMatch(/^Body is not an OTLP ExportLogsServiceRequest: /);
  });

  it('refuses values nested past the stack, which the mapper would not survive', () => {
    const body = nested(100_000);
    expect(() => otlpDrafts(body, { now: new Date().toISOString() })).toThrow(RangeError);
    expect(refusal(body)).toMatchObject({
      code: 'GW_BAD_REQUEST',
      message: 'Body is not an OTLP ExportLogsServiceRequest: values nested too deeply',
    });
  });
});
