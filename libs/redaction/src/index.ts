/**
 * Owns what may leave the raw stage (DESIGN §7). `compileProfile` validates a tenant's profile
 * once; `redact` walks an envelope's strings through the secret, tenant and PII detectors and
 * masks or tokenizes each finding, reporting counts by kind and JSON pointers, never values.
 */

export { classTransitionRate, ibanValid, luhnValid, shannonEntropy } from './checks';
export { BUILT_IN_KINDS, PII_DETECTORS, SECRET_DETECTORS, type Detector } from './detectors';
export {
  compileProfile,
  DENIED_FIELD_KIND,
  isStructural,
  RedactionError,
  STRUCTURAL_POINTERS,
  IDENTIFIER_POINTERS,
  tenantProfile,
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
