/**
 * Owns a tenant's redaction profile and its compiled form: which action each kind takes, the
 * tenant's own patterns and deny-listed fields, and the key tokens are made under. Compiling
 * validates everything once and fails closed with a `RedactionError`, so per-message work never
 * meets a bad rule.
 */
import type { ControlTenantRedaction } from '@aispm/contracts';
import { BUILT_IN_KINDS, PII_DETECTORS, SECRET_DETECTORS, type Detector } from './detectors';

/** What happens to a finding: `mask` → `[REDACTED:<kind>]`, `tokenize` → `tok_<hmac>`. */
export type RedactionAction = 'mask' | 'tokenize';

/** A tenant-defined detector. `pattern` is a JavaScript regular expression source. */
export interface CustomPattern {
  /** Lower snake case, at most 64 characters, not a built-in kind. Reported as the count key. */
  readonly kind: string;
  readonly pattern: string;
  /** Any of `i`, `m`, `s`, `u`; `g` and `d` are always added. */
  readonly flags?: string;
  /** Overrides `actions[kind]` and the default. */
  readonly action?: RedactionAction;
}

/** A tenant's redaction profile, as configured. Everything is optional: `{}` masks every kind. */
export interface RedactionProfile {
  /** The action of every kind without its own; `mask` when absent. */
  readonly defaultAction?: RedactionAction;
  /** Per-kind actions, built-in or custom (including `denied_field`). */
  readonly actions?: Readonly<Record<string, RedactionAction>>;
  readonly customPatterns?: readonly CustomPattern[];
  /**
   * Fields whose whole value is replaced: a JSON pointer (`/event/target_summary`) names one
   * field; a bare name (`target_summary`) names that key at any depth.
   */
  readonly denyFields?: readonly string[];
  /** The tenant's HMAC key for `tokenize`; required (at least 16 bytes) when any action tokenizes. */
  readonly tokenKey?: Buffer;
}

/** A detector with its action resolved. */
export interface CompiledDetector extends Detector {
  readonly action: RedactionAction;
}

/** A profile validated and compiled once, for `redact`. Treat as opaque. */
export interface CompiledProfile {
  readonly detectors: readonly CompiledDetector[];
  readonly denyPointers: ReadonlySet<string>;
  readonly denyNames: ReadonlySet<string>;
  readonly denyAction: RedactionAction;
  readonly tokenKey: Buffer | undefined;
}

/** Why redaction refused: a bad profile or an envelope it cannot walk. The event goes to the DLQ. */
export class RedactionError extends Error {
  constructor(
    readonly reason: 'invalid_profile' | 'invalid_envelope',
    message: string,
  ) {
    super(message);
    this.name = 'RedactionError';
  }
}

/** The kind reported for a deny-listed field. */
export const DENIED_FIELD_KIND = 'denied_field';

/**
 * Enum-like fields the redactor leaves alone (when their value looks like an enum), as JSON
 * pointers; a trailing `/*` covers every child. They carry no free text, and masking one would
 * break the envelope schema downstream.
 */
export const STRUCTURAL_POINTERS: readonly string[] = [
  '/schema_version',
  '/product',
  '/edition',
  '/contract_visibility',
  '/event/event_type',
  '/event/decision',
  '/event/severity',
  '/source/connector_type',
  '/tenant/environment',
  '/redaction/payload_handling',
  '/integrity/hash_algorithm',
  '/transport/ingress_mode',
  '/transport/delivery_semantics',
  '/enterprise_boundaries/*',
];

/**
 * Identifier fields: their values are random by design (UUIDs, `evt_<hex>`), so the generic
 * high-entropy detector would mask every one of them, and distinct events would collapse into
 * one `[REDACTED:high_entropy]` key downstream. Every detector of a known secret format still
 * runs on them, so a token pasted into an id is still caught.
 */
export const IDENTIFIER_POINTERS: ReadonlySet<string> = new Set([
  '/event/event_id',
  '/event/session_id',
  '/event/agent_id',
  '/source/connector_id',
  '/tenant/tenant_ref',
  '/transport/idempotency_key',
]);

const STRUCTURAL_EXACT = new Set(STRUCTURAL_POINTERS.filter((entry) => !entry.endsWith('/*')));
const STRUCTURAL_PREFIXES = STRUCTURAL_POINTERS.filter((entry) => entry.endsWith('/*')).map((entry) =>
  entry.slice(0, -1),
);

/** True when `pointer` is one of `STRUCTURAL_POINTERS`. Runs once per string of every event. */
export function isStructural(pointer: string): boolean {
  return STRUCTURAL_EXACT.has(pointer) || STRUCTURAL_PREFIXES.some((prefix) => pointer.startsWith(prefix));
}

/** Whether a deny-list entry names a structural field or a parent of one. */
function coversStructural(entry: string): boolean {
  if (!entry.startsWith('/'))
    return STRUCTURAL_POINTERS.some((pointer) => pointer.split('/').includes(entry));
  return isStructural(entry) || STRUCTURAL_POINTERS.some((pointer) => pointer.startsWith(`${entry}/`));
}

const KIND = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_CUSTOM_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 1000;
const MIN_TOKEN_KEY_BYTES = 16;

function invalid(message: string): RedactionError {
  return new RedactionError('invalid_profile', `Redaction profile: ${message}`);
}

function checkAction(action: unknown, where: string): RedactionAction | undefined {
  if (action === undefined) return undefined;
  if (action !== 'mask' && action !== 'tokenize') throw invalid(`${where} must be "mask" or "tokenize"`);
  return action;
}

/**
 * TRICKY: a quantified group that itself holds an unbounded quantifier (`(a+)+`, `(\w*)*`,
 * `(x+){2,}`) can backtrack exponentially, and one such event would stall the partition. This
 * scan is a conservative star-height check on the source; it rejects some safe patterns too.
 */
function nestedQuantifier(source: string): boolean {
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i += 1) {
    const char = source[i];
    if (char === '\\') {
      i += 1;
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === '(') stack.push(false);
    else if (char === ')') {
      const innerUnbounded = stack.pop() ?? false;
      const after = source.slice(i + 1);
      const quantified = /^(?:[*+]|\{\d+,\d*\})/.test(after);
      if (innerUnbounded && quantified) return true;
      if ((innerUnbounded || quantified) && stack.length > 0) stack[stack.length - 1] = true;
    } else if (
      (char === '*' || char === '+' || (char === '{' && /^\{\d+,\}/.test(source.slice(i)))) &&
      stack.length > 0
    ) {
      stack[stack.length - 1] = true;
    }
  }
  return false;
}

function compileCustom(custom: CustomPattern, index: number, action: RedactionAction): CompiledDetector {
  const where = `customPatterns[${index}]`;
  if (typeof custom.kind !== 'string' || !KIND.test(custom.kind)) {
    throw invalid(`${where}.kind must be lower snake case of at most 64 characters`);
  }
  if (BUILT_IN_KINDS.includes(custom.kind) || custom.kind === DENIED_FIELD_KIND) {
    throw invalid(`${where}.kind "${custom.kind}" is a built-in kind`);
  }
  if (typeof custom.pattern !== 'string' || custom.pattern.length === 0) {
    throw invalid(`${where}.pattern must be a non-empty string`);
  }
  if (custom.pattern.length > MAX_PATTERN_LENGTH) {
    throw invalid(`${where}.pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  const flags = custom.flags ?? '';
  if (!/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length) {
    throw invalid(`${where}.flags may hold only i, m, s and u, each once`);
  }
  if (nestedQuantifier(custom.pattern)) {
    throw invalid(`${where}.pattern nests quantifiers, which can backtrack catastrophically`);
  }
  let pattern: RegExp;
  try {
    pattern = new RegExp(custom.pattern, `gd${flags}`);
  } catch (error) {
    throw invalid(`${where}.pattern does not compile: ${(error as Error).message}`);
  }
  // A pattern that matches nothing would loop on empty matches and mask nothing. Zero-width
  // matches elsewhere (`(?=x)`) are refused again at match time.
  if (new RegExp(custom.pattern, flags).test('')) {
    throw invalid(`${where}.pattern matches the empty string`);
  }
  return { kind: custom.kind, pattern, action };
}

/**
 * Validates `profile` and compiles it for `redact`. Throws a `RedactionError` naming the first
 * problem: an unknown kind or action, a tenant pattern that does not compile, can match the empty
 * string or nests quantifiers, a deny-listed structural field, or tokenizing without a key.
 */
export function compileProfile(profile: RedactionProfile): CompiledProfile {
  if (typeof profile !== 'object' || profile === null) throw invalid('must be an object');
  const defaultAction = checkAction(profile.defaultAction, 'defaultAction') ?? 'mask';
  const customs = profile.customPatterns ?? [];
  if (customs.length > MAX_CUSTOM_PATTERNS) throw invalid(`at most ${MAX_CUSTOM_PATTERNS} custom patterns`);
  const customKinds = customs.map((custom) => custom.kind);
  if (new Set(customKinds).size !== customKinds.length) throw invalid('custom pattern kinds must be unique');

  const known = new Set([...BUILT_IN_KINDS, ...customKinds, DENIED_FIELD_KIND]);
  const actions = profile.actions ?? {};
  for (const [kind, action] of Object.entries(actions)) {
    if (!known.has(kind)) throw invalid(`actions names unknown kind "${kind}"`);
    checkAction(action, `actions.${kind}`);
  }
  const actionOf = (kind: string): RedactionAction => actions[kind] ?? defaultAction;

  const withAction = (detector: Detector): CompiledDetector => ({
    ...detector,
    action: actionOf(detector.kind),
  });
  const detectors: CompiledDetector[] = [
    ...SECRET_DETECTORS.map(withAction),
    ...customs.map((custom, i) =>
      compileCustom(
        custom,
        i,
        checkAction(custom.action, `customPatterns[${i}].action`) ?? actionOf(custom.kind),
      ),
    ),
    ...PII_DETECTORS.map(withAction),
  ];

  const denyPointers = new Set<string>();
  const denyNames = new Set<string>();
  for (const entry of profile.denyFields ?? []) {
    if (typeof entry !== 'string' || entry.length === 0)
      throw invalid('denyFields entries must be non-empty strings');
    if (coversStructural(entry))
      throw invalid(`denyFields entry "${entry}" is a structural field; masking it breaks the schema`);
    (entry.startsWith('/') ? denyPointers : denyNames).add(entry);
  }

  const denyAction = actionOf(DENIED_FIELD_KIND);
  const tokenizes = denyAction === 'tokenize' || detectors.some((detector) => detector.action === 'tokenize');
  let tokenKey: Buffer | undefined;
  if (tokenizes) {
    if (!Buffer.isBuffer(profile.tokenKey) || profile.tokenKey.length < MIN_TOKEN_KEY_BYTES) {
      throw invalid(`tokenize needs a tokenKey of at least ${MIN_TOKEN_KEY_BYTES} bytes`);
    }
    // A copy, so a caller reusing its buffer cannot change tokens under a compiled profile.
    tokenKey = Buffer.from(profile.tokenKey);
  }
  return { detectors, denyPointers, denyNames, denyAction, tokenKey };
}

/**
 * The profile a tenant's control record describes (`redaction`, snake case on the wire), with its
 * token key already opened from the KMS. No settings means the default: every detector masks.
 */
export function tenantProfile(
  settings: ControlTenantRedaction | undefined,
  tokenKey?: Buffer,
): RedactionProfile {
  if (!settings) return {};
  return {
    ...(settings.default_action ? { defaultAction: settings.default_action } : {}),
    ...(settings.actions ? { actions: settings.actions } : {}),
    ...(settings.custom_patterns
      ? {
          customPatterns: settings.custom_patterns.map((custom) => ({
            kind: custom.kind,
            pattern: custom.pattern,
            ...(custom.flags ? { flags: custom.flags } : {}),
            ...(custom.action ? { action: custom.action } : {}),
          })),
        }
      : {}),
    ...(settings.deny_fields ? { denyFields: settings.deny_fields } : {}),
    ...(tokenKey ? { tokenKey } : {}),
  };
}
