/**
 * Owns the built-in detectors (DESIGN §7): one stable kind per rule, its pattern and the check a
 * match must pass. Their order is their priority: when two findings overlap, the earlier detector
 * wins and the later one is dropped, so a JWT is never also a high-entropy string and a URL with
 * credentials is one finding. Secrets come first, then (after tenant patterns) PII, and the
 * high-entropy catch-all last.
 */
import { classTransitionRate, ibanValid, luhnValid, shannonEntropy } from './checks';

/**
 * One rule. `pattern` is global with indices (`gd`); when a named group took part in the match,
 * only that group is replaced (the value of `password=…`, not the key). `accept` sees the matched value,
 * the whole text and the match's offset, and may veto the match.
 */
export interface Detector {
  readonly kind: string;
  readonly pattern: RegExp;
  readonly accept?: (value: string, text: string, index: number) => boolean;
  /**
   * A cheap, linear test a text must pass before `pattern` runs at all: a literal the pattern
   * needs (V8 finds those fast), or a rough shape for costly patterns. It must hold for every text
   * the pattern can match; the corpus test fails when one does not.
   */
  readonly hint?: RegExp;
}

const ALNUM_BEFORE = '(?<![A-Za-z0-9_-])';
const ALNUM_AFTER = '(?![A-Za-z0-9_-])';

function re(source: string, flags = ''): RegExp {
  return new RegExp(source, `gd${flags}`);
}

const hasDigit = (value: string): boolean => /\d/.test(value);
const hasUpper = (value: string): boolean => /[A-Z]/.test(value);
const hasLower = (value: string): boolean => /[a-z]/.test(value);

/** A private-key body: up to its END line, or (truncated) to the end of the text, failing closed. */
const PEM_BODY = '(?:[\\s\\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[\\s\\S]*)';

/**
 * Values that follow `password:` in code and config without being one: type annotations and
 * placeholders. Masking them is harmless but noisy in agent traffic, which is mostly code.
 */
const ASSIGNMENT_PLACEHOLDERS = new Set([
  'string',
  'str',
  'number',
  'bool',
  'boolean',
  'null',
  'undefined',
  'none',
  'nil',
  'true',
  'false',
  'any',
  'object',
  'optional',
  'required',
]);

/**
 * Values of `secret = …` that name where the secret lives instead of holding it: environment
 * lookups and shell or template variables (`process.env.X`, `os.environ["X"]`, `$X`, `${X}`).
 */
const VARIABLE_REFERENCE =
  /^(?:process\.env\.|os\.environ|os\.getenv|ENV\[|\{\{|\$\{?[A-Za-z_][A-Za-z0-9_]*(?:\}|(?![A-Za-z0-9_])))/;

/**
 * What `replacement` writes: a mask or a token. Detectors never report it, so redacting twice
 * changes nothing. Keep in sync with `replacement` in `redact.ts` (the idempotency test fails
 * when they drift).
 */
export const OWN_OUTPUT = /^(?:\[REDACTED:[a-z0-9_]+\]|tok_[0-9a-f]{32})$/;

/** The text of the whitespace-delimited token around `index`, to read a URL's other parameters. */
function tokenAround(text: string, index: number): string {
  let start = index;
  while (start > 0 && !/[\s"'<>]/.test(text[start - 1] ?? ' ')) start -= 1;
  let end = index;
  while (end < text.length && !/[\s"'<>]/.test(text[end] ?? ' ')) end += 1;
  return text.slice(start, end);
}

/**
 * Whether a run is made of words, as identifiers are (`getAtlasSettingsForTenant2`,
 * `HTTP_PROXY_URL`): every word has three letters or more, upper-case
 * acronyms are short and numbers few. Random strings almost always hold a lone lower-case letter.
 */
function wordLike(run: string): boolean {
  let numbers = 0;
  for (const part of run.split(/[_-]+/)) {
    for (const token of part.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^A-Za-z0-9]/g) ?? []) {
      if (/^\d+$/.test(token)) {
        numbers += 1;
        if (token.length > 4 || numbers > 2) return false;
      } else if (/^[A-Z]+$/.test(token)) {
        if (token.length > 5) return false;
      } else if (!/^(?:[A-Z][a-z]{2,}|[a-z]{3,})$/.test(token)) return false;
    }
  }
  return true;
}

/**
 * Whether a long run is a secret by its shape alone. The thresholds come from sampling random
 * strings: 99% of random base62 strings of 20 characters have entropy above 3.65 bits and a class
 * transition rate above 0.37, so 3.5 and 0.3 sit just below both. Identifiers and paths reach
 * 3.9 bits too, which is why the transition rate, where they stay under 0.25, does the sorting.
 */
function looksRandom(run: string, text: string, index: number): boolean {
  // Hex of any length is a hash, a SHA, a trace or object id far more often than a bare secret;
  // hex secrets are caught by their context (`api_key=…`) instead.
  if (/^[0-9a-fA-F]+$/.test(run)) return false;
  // A path or URL path (`acme/repo/commit/<sha>`): lower-case words and hex between slashes.
  // Random base64 holds slashes too, but its segments are mixed case.
  if (run.includes('/') && run.split('/').every((s) => /^[a-z0-9._-]*$/.test(s) || /^[0-9a-fA-F]+$/.test(s)))
    return false;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(run)) return false;
  if (/^sha(?:1|224|256|384|512)-/i.test(run)) return false; // Subresource Integrity digests.
  if (/^(?:[a-z]{1,8}_)?[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(run)) return false; // ULIDs.
  if (OWN_OUTPUT.test(run)) return false;
  const before = text.slice(Math.max(0, index - 8), index);
  if (/;base64,$/.test(before)) return false; // Data URIs: images, not credentials.
  if (/sha(?:1|224|256|384|512)[:=]$/i.test(before)) return false; // Labelled content hashes.
  if (!hasDigit(run) || !/[A-Za-z]/.test(run) || wordLike(run)) return false;
  return shannonEntropy(run) >= 3.5 && classTransitionRate(run) >= 0.3;
}

/** The secret detectors, most specific first. Tenant patterns run after these. */
export const SECRET_DETECTORS: readonly Detector[] = [
  {
    kind: 'gcp_service_account_key',
    hint: /private_key/,
    pattern: re(
      `\\\\?"private_key\\\\?"\\s*:\\s*\\\\?"(?<v>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----${PEM_BODY})`,
    ),
  },
  {
    kind: 'pem_private_key',
    hint: /-----BEGIN /,
    pattern: re(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----${PEM_BODY}`),
  },
  {
    kind: 'azure_connection_string',
    hint: /DefaultEndpointsProtocol=|Endpoint=sb:\/\//,
    pattern: re(
      `DefaultEndpointsProtocol=[^;\\s"']+;(?:[A-Za-z]+=[^;\\s"']*;)*?(?:AccountKey|SharedAccessSignature)=[^;\\s"']+(?:;[A-Za-z]+=[^;\\s"']*)*` +
        `|Endpoint=sb://[^;\\s"']+;SharedAccessKeyName=[^;\\s"']+;SharedAccessKey=[^;\\s"']+(?:;[A-Za-z]+=[^;\\s"']*)*`,
    ),
  },
  {
    // ADO.NET, ODBC and Npgsql connection strings: only the password is masked, so the server
    // and database stay readable. Bounded repetition keeps a long `a=b;` list linear.
    kind: 'db_connection_string',
    hint: /(?:password|pwd)\s*=/i,
    pattern: re(
      `(?<![A-Za-z0-9])(?:Server|Data Source|Host|Address|Addr|Driver|Provider)\\s*=[^;"'\\n]*;(?:[A-Za-z][A-Za-z ]{0,30}=[^;"'\\n]*;){0,12}?\\s*(?:Password|Pwd)\\s*=\\s*(?<v>[^;"'\\s]+)`,
      'i',
    ),
  },
  {
    // Only the user-info is masked: the host and path stay readable for the dashboard.
    kind: 'url_credentials',
    hint: /@/,
    pattern: re(
      `(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}://(?<v>[^\\s:/?#@"'<>]*:[^\\s/?#"'<>]+)@[^\\s/?#@"'<>]`,
    ),
  },
  {
    kind: 'slack_webhook',
    hint: /hooks\.slack\.com\//,
    pattern: re(`https://hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{8,}`),
  },
  {
    kind: 'azure_sas_token',
    hint: /sig=/,
    pattern: re(`(?<![A-Za-z0-9_])sig=(?<v>[A-Za-z0-9%+/=_-]{16,})`),
    accept: (_value, text, index) => /(?:^|[?&])sv=/.test(tokenAround(text, index)),
  },
  {
    kind: 'jwt',
    hint: /eyJ/,
    pattern: re(`${ALNUM_BEFORE}eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*`),
  },
  {
    kind: 'aws_access_key_id',
    hint: /A(?:KIA|SIA|BIA|CCA|3T)/,
    pattern: re(`(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])`),
  },
  {
    kind: 'aws_session_token',
    hint: /token|IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz/i,
    pattern: re(
      `(?:aws_?session_?token|aws_?security_?token|x-amz-security-token)["']?\\s*[:=]\\s*["']?(?<v>[A-Za-z0-9/+=%]{40,})` +
        `|(?<![A-Za-z0-9/+])(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz)[A-Za-z0-9/+=]{60,}`,
      'i',
    ),
  },
  {
    kind: 'aws_secret_access_key',
    hint: /secret_?access_?key|aws/i,
    pattern: re(
      `(?:aws_?)?secret_?access_?key["']?\\s*[:=]\\s*["']?(?<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])` +
        `|aws[\\w\\s.:"'=-]{0,40}?(?<![A-Za-z0-9/+])(?<w>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
      'i',
    ),
    // A SHA near the word "aws" is 40 characters too; a secret key is mixed-case base64.
    accept: (value) => hasUpper(value) && hasLower(value),
  },
  { kind: 'gcp_api_key', hint: /AIza/, pattern: re(`${ALNUM_BEFORE}AIza[0-9A-Za-z_-]{35}${ALNUM_AFTER}`) },
  {
    kind: 'github_token',
    hint: /gh[pousr]_|github_pat_/,
    pattern: re(
      `(?<![A-Za-z0-9_])(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,240})(?![A-Za-z0-9_])`,
    ),
  },
  {
    kind: 'gitlab_token',
    hint: /gl(?:pat|dt|rt|ptt)-/,
    pattern: re(`${ALNUM_BEFORE}(?:glpat|gldt|glrt|glptt)-[A-Za-z0-9_-]{20,}`),
  },
  {
    kind: 'slack_token',
    hint: /xox[abeoprs]-|xapp-/,
    pattern: re(`${ALNUM_BEFORE}(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{10,}`),
  },
  {
    kind: 'stripe_key',
    hint: /_(?:live|test)_/,
    pattern: re(`(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])`),
  },
  { kind: 'anthropic_key', hint: /sk-ant-/, pattern: re(`${ALNUM_BEFORE}sk-ant-[A-Za-z0-9_-]{20,}`) },
  {
    kind: 'openai_key',
    hint: /sk-/,
    pattern: re(`${ALNUM_BEFORE}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}${ALNUM_AFTER}`),
    // Slugs such as `sk-learn-…` are lower case; real keys are mixed-case base62 with digits.
    accept: (value) => hasDigit(value) && hasUpper(value),
  },
  { kind: 'npm_token', hint: /npm_/, pattern: re(`(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])`) },
  { kind: 'pypi_token', hint: /pypi-AgEI/, pattern: re(`${ALNUM_BEFORE}pypi-AgEI[A-Za-z0-9_-]{50,}`) },
  {
    kind: 'azure_storage_key',
    hint: /AccountKey|SharedAccessKey/,
    pattern: re(`(?:AccountKey|SharedAccessKey)\\s*=\\s*(?<v>[A-Za-z0-9+/]{20,}={0,2})`),
  },
  {
    kind: 'authorization_header',
    hint: /[Bb]earer|Basic/,
    pattern: re(`\\b(?:[Bb]earer|Basic)\\s+(?<v>[A-Za-z0-9._~+/-]{12,}=*)`),
    // "Basic authentication" is prose; a credential has digits or mixed case.
    accept: (value) => hasDigit(value) || (hasUpper(value) && hasLower(value)),
  },
  {
    kind: 'secret_assignment',
    hint: /pass|secret|token|key|credential|pwd/i,
    pattern: re(
      `(?<![A-Za-z0-9])[A-Za-z0-9_.-]{0,40}?(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|[_.-]pwd)(?:[_-]?key)?` +
        `\\\\?["']?\\s*(?::=|=>|:|=)\\s*\\\\?["']?(?<v>[^\\s"'=,;&<>{}()\\[\\]\`\\\\][^\\s"',;&<>{}()\\[\\]\`\\\\]*)`,
      'i',
    ),
    // The reference is read from the text: the value stops before `{`, so `${X}` is only `$`.
    accept: (value, text, index) =>
      !ASSIGNMENT_PLACEHOLDERS.has(value.toLowerCase()) &&
      !VARIABLE_REFERENCE.test(text.slice(index, index + 80)),
  },
];

/** The PII detectors and the high-entropy catch-all. Tenant patterns run before these. */
export const PII_DETECTORS: readonly Detector[] = [
  {
    kind: 'email',
    hint: /@/,
    pattern: re(
      `(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]+\\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])`,
    ),
    // `git@github.com:org/repo` is an SSH remote, not a person.
    accept: (value) => !value.startsWith('git@'),
  },
  {
    kind: 'iban',
    pattern: re(`(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])`),
    accept: (value) => ibanValid(value),
  },
  {
    kind: 'payment_card',
    pattern: re(`(?<![\\w.-])\\d(?:[ -]?\\d){12,18}(?![\\w])`),
    accept: (value) => {
      const separators = new Set(value.replace(/\d/g, ''));
      const digits = value.replace(/\D/g, '');
      // A known issuer prefix keeps 13-digit millisecond timestamps (which pass Luhn one time
      // in ten) out; one separator style keeps digit lists out.
      return (
        separators.size <= 1 &&
        /^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6(?:011|4[4-9]|5))/.test(digits) &&
        luhnValid(digits)
      );
    },
  },
  {
    kind: 'phone',
    pattern: re(
      `(?<![\\w+])\\+[1-9](?:[ .-]?\\(?\\d{1,4}\\)?){2,6}(?!\\w)` +
        `|(?<![\\w.+-])(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}(?![\\w]|[.-]\\d)` +
        `|(?<![\\w.+-])0\\d{2,4} \\d{3,4} \\d{4}(?![\\w]|[.-]\\d)`,
    ),
    accept: (value) => {
      const digits = value.replace(/\D/g, '').length;
      return digits >= 8 && digits <= 15;
    },
  },
  {
    kind: 'ipv4',
    hint: /\d\.\d/,
    pattern: re(
      `(?<![\\w.])(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?![\\w]|\\.\\d)`,
    ),
    // Loopback and unspecified addresses say nothing about anyone; "version 1.2.3.4" is a version.
    accept: (value, text, index) =>
      !/^(?:127\.|0\.0\.0\.0$)/.test(value) &&
      !/version\s*$/i.test(text.slice(Math.max(0, index - 10), index)),
  },
  {
    kind: 'ipv6',
    hint: /:[0-9A-Fa-f]*:/,
    pattern: re(
      `(?<![\\w:.])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}` +
        `|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}` +
        `|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}` +
        `|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}` +
        `|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}` +
        `|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}` +
        `|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}` +
        `|(?:[0-9A-Fa-f]{1,4}:){1,7}:)(?![\\w:])`,
    ),
    // `::1` is loopback; C++ scopes such as `add::bead` have no digit.
    accept: (value) => hasDigit(value) && value !== '::1' && value.split(':').filter(Boolean).length >= 2,
  },
  {
    kind: 'high_entropy',
    pattern: re(`(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/_=-])`),
    accept: (value, text, index) => looksRandom(value.replace(/=+$/, ''), text, index),
  },
];

/** Every built-in kind, in priority order. Tenant kinds may not reuse these names. */
export const BUILT_IN_KINDS: readonly string[] = [
  ...new Set([...SECRET_DETECTORS, ...PII_DETECTORS].map((d) => d.kind)),
];
