import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A fixture of test/fixtures/collectors, parsed. */
export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(path.resolve(__dirname, '../../../test/fixtures/collectors', name), 'utf8'));
}
