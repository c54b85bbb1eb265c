/**
 * Fake credentials and personal data for the redaction tests, generated from a seeded PRNG so
 * that no real secret (and no literal a secret scanner would flag) lives in the repository.
 * Each generator builds the documented shape of the credential with random content.
 */
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}_-`;
const HEX = '0123456789abcdef';

/** A deterministic generator of random strings (mulberry32). */
export class Fakes {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i += 1) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }

  /** Random base62 with at least one digit, one upper and one lower letter, as real keys have. */
  alnum(length: number): string {
    return this.pick(UPPER, 1) + this.pick(DIGITS, 1) + this.pick(LOWER, 1) + this.pick(ALNUM, length - 3);
  }

  b64(length: number): string {
    return this.alnum(3) + this.pick(B64, length - 3);
  }

  b64url(length: number): string {
    return this.alnum(3) + this.pick(B64URL, length - 3);
  }

  hex(length: number): string {
    return this.pick(HEX, length);
  }

  upperDigits(length: number): string {
    return this.pick(UPPER + DIGITS, length);
  }

  digits(length: number): string {
    return this.pick(DIGITS, length);
  }

  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-a${this.hex(3)}-${this.hex(12)}`;
  }

  jwt(): string {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const claims = { sub: this.alnum(12), iat: 1_781_164_800, scope: 'repo' };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${header}.${payload}.${this.b64url(43)}`;
  }

  pem(label: string): string {
    const lines = Array.from({ length: 6 }, () => this.b64(64)).join('\n');
    return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----`;
  }

  /** A card number with the given issuer prefix, completed with a valid Luhn check digit. */
  card(prefix: string, length: number): string {
    const body = prefix + this.digits(length - prefix.length - 1);
    for (let check = 0; check <= 9; check += 1) {
      const candidate = body + String(check);
      if (luhnSum(candidate) % 10 === 0) return candidate;
    }
    throw new Error('unreachable: one check digit always fits');
  }
}

function luhnSum(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum;
}

/** Groups a card number in fours with `separator`. */
export function grouped(digits: string, separator: string): string {
  return digits.match(/.{1,4}/g)!.join(separator);
}

/**
 * Positive samples: `[kind, text, planted]` where `planted` is the secret part of `text` that must
 * not survive redaction. Several per kind, in realistic surroundings.
 */
export function positives(seed = 7): Array<[string, string, string]> {
  const f = new Fakes(seed);
  const rows: Array<[string, string, string]> = [];
  const add = (kind: string, make: (secret: string) => string, secret: string): void => {
    rows.push([kind, make(secret), secret]);
  };
  for (let i = 0; i < 3; i += 1) {
    add('aws_access_key_id', (s) => `export AWS_ACCESS_KEY_ID=${s}`, `AKIA${f.upperDigits(16)}`);
    add('aws_access_key_id', (s) => `temporary credentials ${s} expire soon`, `ASIA${f.upperDigits(16)}`);
    add('aws_secret_access_key', (s) => `aws_secret_access_key = ${s}`, f.b64(40));
    add('aws_secret_access_key', (s) => `AWS secret: ${s}`, f.b64(40));
    add('aws_session_token', (s) => `AWS_SESSION_TOKEN=${s}`, f.b64(220));
    add('aws_session_token', (s) => `token ${s}`, `IQoJb3JpZ2luX2Vj${f.b64(300)}`);
    add('gcp_api_key', (s) => `https://maps.googleapis.com/api?key=${s}`, `AIza${f.b64url(35)}`);
    // Embedded as JSON text, as a key file pasted into a prompt is: newlines are `\n` escapes.
    add(
      'gcp_service_account_key',
      (s) => `{"type":"service_account","private_key_id":"${f.hex(40)}","private_key":"${s}\\n"}`,
      f.pem('PRIVATE KEY').replace(/\n/g, '\\n'),
    );
    add(
      'azure_connection_string',
      (s) => `conn = "${s}"`,
      `DefaultEndpointsProtocol=https;AccountName=acme${f.digits(3)};AccountKey=${f.b64(86)}==;EndpointSuffix=core.windows.net`,
    );
    add(
      'azure_connection_string',
      (s) => `SERVICEBUS=${s}`,
      `Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${f.b64(43)}=`,
    );
    add('azure_storage_key', (s) => `AccountKey=${s}`, `${f.b64(86)}==`);
    add(
      'azure_sas_token',
      (s) => `curl "https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&se=2026-01-01&sig=${s}"`,
      encodeURIComponent(`${f.b64(43)}=`),
    );
    add('github_token', (s) => `GITHUB_TOKEN=${s}`, `ghp_${f.alnum(36)}`);
    add('github_token', (s) => `using ${s} for the app`, `${['gho', 'ghu', 'ghs', 'ghr'][i]}_${f.alnum(36)}`);
    add('github_token', (s) => `token: "${s}"`, `github_pat_${f.alnum(22)}_${f.alnum(59)}`);
    add('gitlab_token', (s) => `PRIVATE-TOKEN ${s}`, `glpat-${f.b64url(20)}`);
    add('slack_token', (s) => `slack ${s}`, `xox${'bpa'[i]}-${f.digits(12)}-${f.digits(13)}-${f.alnum(24)}`);
    add(
      'slack_webhook',
      (s) => `post to ${s} on failure`,
      `https://hooks.slack.com/services/T${f.upperDigits(8)}/B${f.upperDigits(10)}/${f.alnum(24)}`,
    );
    add(
      'stripe_key',
      (s) => `stripe.api_key = '${s}'`,
      `${['sk_live_', 'rk_live_', 'sk_test_'][i]}${f.alnum(24)}`,
    );
    add('openai_key', (s) => `OPENAI_API_KEY=${s}`, `sk-${f.alnum(48)}`);
    add('openai_key', (s) => `client = OpenAI(api_key="${s}")`, `sk-proj-${f.b64url(156)}`);
    add('anthropic_key', (s) => `x-api-key: ${s}`, `sk-ant-api03-${f.b64url(93)}AA`);
    add('npm_token', (s) => `//registry.npmjs.org/:_authToken=${s}`, `npm_${f.alnum(36)}`);
    add('pypi_token', (s) => `TWINE_PASSWORD=${s}`, `pypi-AgEIcHlwaS5vcmc${f.b64url(70)}`);
    add(
      'pem_private_key',
      (s) => `key file:\n${s}\nend`,
      f.pem(['RSA PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'EC PRIVATE KEY'][i]!),
    );
    add('jwt', (s) => `Authorization: Bearer ${s}`, f.jwt());
    add('url_credentials', (s) => `DATABASE_URL=postgres://${s}@db.internal:5432/app`, `app:${f.alnum(16)}`);
    add('url_credentials', (s) => `mongodb+srv://${s}@cluster0.example.net/test`, `admin:${f.alnum(12)}`);
    add(
      'url_credentials',
      (s) => `git clone https://${s}@github.com/acme/repo.git`,
      `x-access-token:ghs_${f.alnum(36)}`,
    );
    add(
      'db_connection_string',
      (s) => `Server=tcp:sql${i}.example.net;Database=app;User ID=svc;Password=${s};Encrypt=true`,
      f.alnum(14),
    );
    add('secret_assignment', (s) => `password=${s}`, f.alnum(12));
    add('secret_assignment', (s) => `DB_PASSWORD: "${s}"`, f.alnum(10));
    add('secret_assignment', (s) => `{"client_secret":"${s}"}`, f.alnum(16));
    add('secret_assignment', (s) => `https://api.example.com/v1?api_key=${s}&page=2`, f.hex(32));
    add('authorization_header', (s) => `Authorization: Bearer ${s}`, f.alnum(32));
    add('high_entropy', (s) => `the value was ${s} yesterday`, f.alnum(40));
    add(
      'email',
      (s) => `contact ${s} for access`,
      `${f.pick('abcdefgh', 5)}.${f.pick('ijklmnop', 6)}@example.com`,
    );
    add('ipv4', (s) => `connection from ${s} refused`, `203.0.113.${10 + i}`);
    add(
      'ipv6',
      (s) => `peer [${s}] closed`,
      ['2001:db8::8a2e:370:7334', 'fe80::1ff:fe23:4567:890a', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'][i]!,
    );
    add('phone', (s) => `call ${s} tomorrow`, ['+1 415 555 2671', '+44 20 7946 0958', '(415) 555-2671'][i]!);
    add(
      'payment_card',
      (s) => `card ${s} declined`,
      grouped(f.card(['4', '51', '6011'][i]!, 16), [' ', '-', ''][i]!),
    );
    add('payment_card', (s) => `amex ${s}`, f.card('37', 15));
    add(
      'iban',
      (s) => `pay to ${s}`,
      ['GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000', 'FR1420041010050500013M02606'][i]!,
    );
  }
  return rows;
}

/**
 * Hard negatives: strings that look like secrets or PII and are not. Each must come out of
 * redaction unchanged.
 */
export function negatives(seed = 11): string[] {
  const f = new Fakes(seed);
  const rows: string[] = [];
  for (let i = 0; i < 3; i += 1) {
    rows.push(
      `commit ${f.hex(40)}`,
      `aws deploy of ${f.hex(40)} finished`,
      `digest sha256:${f.hex(64)}`,
      `${f.hex(64)}  dist/app.tar.gz`,
      `trace ${f.hex(32)} span ${f.hex(16)}`,
      `request ${f.uuid()} done`,
      `integrity sha384-${f.b64(64)}`,
      `<img src="data:image/png;base64,${f.b64(400)}">`,
      `object ${f.hex(24)}`,
      `tok_${f.hex(32)}`,
    );
  }
  rows.push(
    '2026-11-29',
    '2026-11-29T03:05:28Z',
    '29.11.2026 at 12:30:45',
    '11/29/2026',
    'upgraded to 1.2.3 from v10.24.1',
    'version 1.2.3.4',
    'Kafka 4.1.0 and Node 20.11.1',
    'the port is 5432 and retries 3',
    'pi is 3.14159, population 1,234,567',
    'ISBN 978-0-306-40615-7',
    'The agent opened a pull request and asked for approval before merging.',
    'Please summarise the failing tests in the CI run and propose a fix.',
    'https://github.com/acme/repo/blob/main/src/index.ts',
    'https://example.com/path?query=1&x=2#frag',
    'git@github.com:acme/repo.git',
    '/usr/local/lib/node_modules/typescript/lib/tsc.js',
    'src/components/UserProfileCard/UserProfileCard.tsx',
    'C:\\Users\\builder\\AppData\\Local\\Temp\\build-output',
    'getUserAccountSettingsForTenantWithRetries',
    'AbstractSingletonProxyFactoryBean',
    'evt_01jz_public_contract_sample',
    'k8s-prod-eu-west-1-cluster-01',
    'node_modules/@aispm/contracts/dist/generated',
    'aispm.acme.raw',
    'evt_01JZ8XQK3M4N5P6R7S8T9V0W1X',
    'listening on 127.0.0.1:8080 and 0.0.0.0:9092 and [::1]:80',
    'std::vector<int> and Foo::Bar::baz',
    'mac 00:1a:2b:3c:4d:5e',
    'epoch 1732849528000 ms',
    'card 4111 1111 1111 1112 is invalid',
    'iban GB82 WEST 1234 5698 7654 33 is invalid',
    'password: string',
    'interface Login { password: string; token?: undefined }',
    'token_count: 5, max_tokens: 4096',
    'if (token == expected) return',
    'Basic authentication is disabled',
    'sk-learn-pipeline-example-here',
    '[REDACTED:github_token]',
    'password=[REDACTED:secret_assignment]',
    'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft',
    'redacted:ci-workflow',
    'const apiSecret = process.env.API_SECRET;',
    'password=${DB_PASSWORD}',
    'https://github.com/acme/repo/commit/0123456789abcdef0123456789abcdef01234567',
    'getAtlasSettingsForTenant2 and HTTP_PROXY_URL_V2',
    'cavra://evidence/redacted/public-contract-sample',
  );
  return rows;
}
