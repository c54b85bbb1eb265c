/**
 * Owns what may leave the raw stage. Today it holds only `passThroughRedactor`, which copies the
 * envelope unchanged and reports nothing redacted: the pipeline runs end to end while the real
 * detectors (DESIGN §7) are built. Its name says what it does, so no one mistakes it for one.
 */
import type { Envelope, RedactionReport } from '@aispm/contracts';

/** The output of a redaction core. */
export interface Redaction {
  readonly envelope: Envelope;
  readonly report: RedactionReport;
}

/** Copies the envelope unchanged. Not a redactor: it detects and masks nothing. */
export function passThroughRedactor(envelope: Envelope): Redaction {
  return { envelope, report: { redactor: 'pass-through', counts: {}, pointers: [] } };
}
