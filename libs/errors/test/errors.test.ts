import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError, ERROR_CODES, isProgrammerError, isRetriable } from '../src';

describe('error codes', () => {
  const docs = readFileSync(path.resolve(__dirname, '../../../docs/errors.md'), 'utf8');

  it.each(Object.keys(ERROR_CODES))('%s is SCREAMING_SNAKE and documented', (code) => {
    expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/);
    expect(docs).toContain(`\`${code}\``);
  });

  it('documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('carries the spec of its code', () => {
    const error = new AppError('GW_KAFKA_UNAVAILABLE', 'down', { cause: new Error('x') });
    expect(error.retriable).toBe(true);
    expect(error.status).toBe(503);
    expect(isRetriable(error)).toBe(true);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });

  it('tells programmer errors apart', () => {
    expect(isProgrammerError(new TypeError('x'))).toBe(true);
    expect(isProgrammerError(new AppError('GW_BAD_JSON', 'x'))).toBe(false);
  });
});
