/**
 * Owns what may leave the raw stage (DESIGN §7). `compileProfile` validates a tenant's profile
 * once; `redact` walks an envelope's strings through the secret, tenant and PII detectors and
 * masks or tokenizes each finding, reporting counts by kind and JSON pointers, never values.
 * `passThroughRedactor` stays for the service until the core is wired in: its name says it
 * redacts nothing, so no one mistakes it for a redactor.
 */
import type { Envelope } from '@aispm/contracts';
import type { Redaction } from './redact';

export { classTransitionRate, ibanValid, luhnValid, shannonEntropy } from './checks';
export { BUILT_IN_KINDS, PII_DETECTORS, SECRET_DETECTORS, type Detector } from './detectors';
export {
  compileProfile,
  DENIED_FIELD_KIND,
  isStructural,
  RedactionError,
  STRUCTURAL_POINTERS,
  type CompiledDetector,
  type CompiledProfile,
  type CustomPattern,
  type RedactionAction,
  type RedactionProfile,
} from './profile';
export {
  redact,
  REDACTOR_NAME,
  replacement,
  scanText,
  TOKEN_HEX_LENGTH,
  type Finding,
  type Redaction,
} from './redact';

/** Copies the envelope unchanged. Not a redactor: it detects and masks nothing. */
export function passThroughRedactor(envelope: Envelope): Redaction {
  return { envelope, report: { redactor: 'pass-through', counts: {}, pointers: [] } };
}
