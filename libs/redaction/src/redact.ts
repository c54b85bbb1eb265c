/**
 * Owns the walk: every string in an envelope, except enum-like structural fields, goes through
 * the compiled detectors; findings are replaced once each (mask or token) and the report records
 * counts by kind and the JSON pointers of changed fields, never a value.
 */
import { createHmac } from 'node:crypto';
import type { Envelope, RedactionReport } from '@aispm/contracts';
import { OWN_OUTPUT } from './detectors';
import {
  IDENTIFIER_POINTERS,
  isStructural,
  RedactionError,
  DENIED_FIELD_KIND,
  type CompiledProfile,
  type RedactionAction,
} from './profile';

/** The report's `redactor` name for this core. Bump it when detectors change what they find. */
export const REDACTOR_NAME = 'aispm-redactor-v1';

/**
 * Hex characters kept from the HMAC-SHA256 of a tokenized value: 32 (128 bits), so collisions
 * between distinct values of one tenant are out of reach (birthday bound near 2^64 values) while
 * a token stays short enough for a dashboard.
 */
export const TOKEN_HEX_LENGTH = 32;

/** The generic detector that identifier fields skip (see IDENTIFIER_POINTERS). */
const HIGH_ENTROPY_KIND = 'high_entropy';

/** Deeper than any envelope the schema allows; a guard against hostile or cyclic input. */
const MAX_DEPTH = 32;

/** An enum value: what a structural field must look like to be left alone. */
const ENUM_LIKE = /^[A-Za-z0-9_.]{1,80}$/;

/** One finding: the span `[start, end)` of a text, its kind and the action it takes. */
export interface Finding {
  readonly start: number;
  readonly end: number;
  readonly kind: string;
  readonly action: RedactionAction;
}

/** The output of a redaction core: the envelope as it may leave the raw stage, and its report. */
export interface Redaction {
  readonly envelope: Envelope;
  readonly report: RedactionReport;
}

interface Walk {
  readonly profile: CompiledProfile;
  readonly counts: Record<string, number>;
  readonly pointers: string[];
}

/** The replacement text for `value` found as `kind`. */
export function replacement(
  value: string,
  kind: string,
  action: RedactionAction,
  key: Buffer | undefined,
): string {
  if (action === 'mask') return `[REDACTED:${kind}]`;
  // compileProfile refuses a tokenizing profile without a key; this guards hand-built profiles.
  if (!key) throw new RedactionError('invalid_profile', 'tokenize needs a tokenKey');
  return `tok_${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, TOKEN_HEX_LENGTH)}`;
}

/**
 * The findings in one text, in order, without overlaps: what `redact` would replace. For tests
 * and the dry run; it never returns the matched values, only where they are.
 */
export function scanText(text: string, profile: CompiledProfile, identifier = false): Finding[] {
  const accepted: Finding[] = [];
  for (const detector of profile.detectors) {
    if (identifier && detector.kind === HIGH_ENTROPY_KIND) continue;
    // TRICKY: `exec` on the shared compiled pattern, not `matchAll`, which clones the RegExp for
    // every text and made the whole walk several times slower. Safe because the walk is
    // synchronous and every scan starts by resetting `lastIndex`.
    if (detector.hint && !detector.hint.test(text)) continue;
    const pattern = detector.pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      // The first named group that took part is the part to replace (`password=<v>`).
      const groups = match.indices?.groups ?? {};
      const span = Object.values(groups).find((range) => range !== undefined) ?? match.indices?.[0];
      if (!span) continue;
      const [start, end] = span;
      if (end <= start) {
        throw new RedactionError('invalid_profile', `Detector ${detector.kind} matched the empty string`);
      }
      const value = text.slice(start, end);
      if (OWN_OUTPUT.test(value)) continue;
      if (detector.accept && !detector.accept(value, text, start)) continue;
      // Earlier detectors are more specific: an overlapping later finding is the same secret
      // seen less precisely, and replacing it too would double-mask.
      if (accepted.some((other) => start < other.end && other.start < end)) continue;
      accepted.push({ start, end, kind: detector.kind, action: detector.action });
    }
  }
  return accepted.sort((a, b) => a.start - b.start);
}

function record(walk: Walk, kind: string, pointer: string): void {
  walk.counts[kind] = (walk.counts[kind] ?? 0) + 1;
  if (walk.pointers[walk.pointers.length - 1] !== pointer) walk.pointers.push(pointer);
}

function redactString(text: string, pointer: string, walk: Walk): string {
  const findings = scanText(text, walk.profile, IDENTIFIER_POINTERS.has(pointer));
  if (findings.length === 0) return text;
  let out = '';
  let at = 0;
  for (const finding of findings) {
    out += text.slice(at, finding.start);
    out += replacement(
      text.slice(finding.start, finding.end),
      finding.kind,
      finding.action,
      walk.profile.tokenKey,
    );
    at = finding.end;
    record(walk, finding.kind, pointer);
  }
  return out + text.slice(at);
}

/** RFC 6901: `~` and `/` in a key are escaped. */
function child(pointer: string, key: string | number): string {
  const name = String(key);
  // Almost no key needs escaping; skipping the two replaces is measurable per event.
  if (!name.includes('~') && !name.includes('/')) return `${pointer}/${name}`;
  return `${pointer}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function denied(pointer: string, key: string | number, profile: CompiledProfile): boolean {
  return profile.denyPointers.has(pointer) || (typeof key === 'string' && profile.denyNames.has(key));
}

function walkValue(
  value: unknown,
  pointer: string,
  key: string | number,
  deny: boolean,
  depth: number,
  walk: Walk,
): unknown {
  if (depth > MAX_DEPTH)
    throw new RedactionError('invalid_envelope', `Envelope is nested deeper than ${MAX_DEPTH}`);
  if (typeof value === 'string') {
    if (isStructural(pointer) && ENUM_LIKE.test(value)) return value;
    if (deny || denied(pointer, key, walk.profile)) {
      record(walk, DENIED_FIELD_KIND, pointer);
      return replacement(value, DENIED_FIELD_KIND, walk.profile.denyAction, walk.profile.tokenKey);
    }
    return redactString(value, pointer, walk);
  }
  // Numbers and booleans carry no free text under the schema and must keep their type.
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  const denyBelow = deny || denied(pointer, key, walk.profile);
  if (Array.isArray(value)) {
    return value.map((item, i) => walkValue(item, child(pointer, i), i, denyBelow, depth + 1, walk));
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) {
      out[name] = walkValue(item, child(pointer, name), name, denyBelow, depth + 1, walk);
    }
    return out;
  }
  throw new RedactionError(
    'invalid_envelope',
    `Envelope holds a ${typeof value} at ${pointer || '/'}, not JSON`,
  );
}

/**
 * Redacts every free-text string of `envelope` under `profile` and reports what changed. Pure:
 * the input is not modified. Ids (`event_id`, `session_id`, …) are scanned like any text, since a
 * secret can hide anywhere; a finding in one changes the id. Throws a `RedactionError` on input
 * that is not a JSON object, so the caller dead-letters the event rather than pass it on.
 */
export function redact(envelope: Envelope, profile: CompiledProfile): Redaction {
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
    throw new RedactionError('invalid_envelope', 'Envelope must be a JSON object');
  }
  const walk: Walk = { profile, counts: {}, pointers: [] };
  const redacted = walkValue(envelope, '', '', false, 0, walk) as Envelope;
  return {
    envelope: redacted,
    report: { redactor: REDACTOR_NAME, counts: walk.counts, pointers: walk.pointers },
  };
}
