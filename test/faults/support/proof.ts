/**
 * The fault suites' ledger for `npm run proof`: each suite records the faults it injected, which
 * of them it survived (every assertion after the fault passed), the hostile inputs it tried and
 * the events it sent, had acknowledged and found projected. One JSON file per suite in
 * `.data/proof/` of the checkout; `scripts/proof.js` adds them up into the table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from '../../support/platform';
import type { Tally } from './load';

export const PROOF_DIR = path.join(REPO, '.data/proof');

export interface ProofFile {
  readonly suite: string;
  readonly faults: Fault[];
  hostileInputs: number;
  sent: number;
  acknowledged: number;
  projected: number;
  lost: number;
  duplicated: number;
  /** Figures a suite measured, printed under the table (never asserted). */
  notes: string[];
}

export interface Fault {
  readonly name: string;
  survived: boolean;
}

export class Proof {
  private readonly file: ProofFile;

  constructor(suite: string) {
    this.file = {
      suite,
      faults: [],
      hostileInputs: 0,
      sent: 0,
      acknowledged: 0,
      projected: 0,
      lost: 0,
      duplicated: 0,
      notes: [],
    };
  }

  /** A fault was injected; it counts as survived only once passed to `survived`. */
  injected(name: string): Fault {
    const fault = { name, survived: false };
    this.file.faults.push(fault);
    return fault;
  }

  /** Call after the assertions that prove the platform survived these faults. */
  survived(...faults: Fault[]): void {
    for (const fault of faults) fault.survived = true;
  }

  hostile(count: number): void {
    this.file.hostileInputs += count;
  }

  events(tally: Tally): void {
    this.file.sent += tally.sent;
    this.file.acknowledged += tally.acknowledged;
    this.file.projected += tally.projected;
    this.file.lost += tally.lost;
    this.file.duplicated += tally.duplicated;
  }

  /** A figure the suite measured, for the report. */
  note(text: string): void {
    this.file.notes.push(text);
  }

  /** Writes the suite's file; call in afterAll, so a failed suite is reported too. */
  write(): void {
    mkdirSync(PROOF_DIR, { recursive: true });
    writeFileSync(path.join(PROOF_DIR, `${this.file.suite}.json`), `${JSON.stringify(this.file, null, 2)}\n`);
  }
}
