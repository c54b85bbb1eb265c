/**
 * The quality bar of the issue, measured on the labelled corpus in test/fixtures/redaction/
 * (made by scripts/gen-redaction-corpus.js): recall of at least 99% over the positives and at most
 * 1% false positives over the hard negatives. Prints the measured figures, per kind.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BUILT_IN_KINDS, compileProfile, redact, scanText } from '../src';
import type { Envelope } from '@aispm/contracts';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const generator = require('../../../scripts/gen-redaction-corpus.js') as {
  build(): Record<string, string>;
  OUT_DIR: string;
};

interface Positive {
  kind: string;
  text: string;
  secret: string;
}
interface Negative {
  category: string;
  text: string;
}

function readJsonl<T>(name: string): T[] {
  return readFileSync(path.join(generator.OUT_DIR, name), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

const positives = readJsonl<Positive>('positives.jsonl');
const negatives = readJsonl<Negative>('negatives.jsonl');
const profile = compileProfile({});

/** A positive counts when a finding of its kind covers the whole planted secret. */
function detected(row: Positive): boolean {
  const at = row.text.indexOf(row.secret);
  return scanText(row.text, profile).some(
    (finding) => finding.kind === row.kind && finding.start <= at && finding.end >= at + row.secret.length,
  );
}

describe('labelled redaction corpus', () => {
  it('is what the generator makes (run npm run gen:redaction-corpus after changing it)', () => {
    for (const [name, content] of Object.entries(generator.build())) {
      expect(readFileSync(path.join(generator.OUT_DIR, name), 'utf8')).toBe(content);
    }
  });

  it('has several hundred samples each side and positives for every built-in kind', () => {
    expect(positives.length).toBeGreaterThanOrEqual(300);
    expect(negatives.length).toBeGreaterThanOrEqual(300);
    expect(new Set(positives.map((row) => row.kind))).toEqual(new Set(BUILT_IN_KINDS));
    for (const row of positives) expect(row.text).toContain(row.secret);
  });

  it('keeps recall at 99% or more and false positives at 1% or less', () => {
    const perKind = new Map<string, { found: number; total: number }>();
    const misses: Positive[] = [];
    for (const row of positives) {
      const tally = perKind.get(row.kind) ?? { found: 0, total: 0 };
      tally.total += 1;
      if (detected(row)) tally.found += 1;
      else misses.push(row);
      perKind.set(row.kind, tally);
    }
    const flagged = negatives.filter((row) => scanText(row.text, profile).length > 0);
    const recall = (positives.length - misses.length) / positives.length;
    const falsePositives = flagged.length / negatives.length;
    const lines = [...perKind].map(([kind, { found, total }]) => `  ${kind.padEnd(26)} ${found}/${total}`);
    console.log(
      [
        `redaction corpus: recall ${(recall * 100).toFixed(2)}% (${positives.length - misses.length}/${positives.length}),` +
          ` false positives ${(falsePositives * 100).toFixed(2)}% (${flagged.length}/${negatives.length})`,
        ...lines,
        ...misses.map((row) => `  missed ${row.kind}: ${JSON.stringify(row.text.slice(0, 120))}`),
        ...flagged.map((row) => `  flagged ${row.category}: ${JSON.stringify(row.text.slice(0, 120))}`),
      ].join('\n'),
    );
    expect(recall).toBeGreaterThanOrEqual(0.99);
    expect(falsePositives).toBeLessThanOrEqual(0.01);
  });

  it('leaves no planted secret in a redacted envelope', () => {
    const envelope = { texts: positives.map((row) => row.text) } as unknown as Envelope;
    const out = JSON.stringify(redact(envelope, profile).envelope);
    const survivors = positives.filter((row) => out.includes(row.secret));
    expect(survivors.map((row) => row.kind)).toEqual([]);
  });
});
