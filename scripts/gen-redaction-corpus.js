#!/usr/bin/env node
/**
 * Generates the labelled redaction corpus in test/fixtures/redaction/: `positives.jsonl` (one
 * `{kind, text, secret}` per line: `secret` is the part of `text` that must not survive) and
 * `negatives.jsonl` (one `{category, text}` per line: text that must come out unchanged).
 *
 * Every secret is FAKE: the documented shape of a credential (prefix, alphabet, length) filled
 * from a seeded generator, so no real key is ever committed and the files are reproducible.
 * `--check` regenerates in memory and fails when the committed files differ (a unit test runs
 * it). Run `npm run gen:redaction-corpus` after changing this file.
 */
const { createHash } = require('node:crypto');
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const path = require('node:path');

const OUT_DIR = path.resolve(__dirname, '../test/fixtures/redaction');
const SEED = 'aispm-redaction-corpus-v1';
/** Samples per template: enough for several hundred strings on each side. */
const PER_TEMPLATE = 5;

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}_-`;
const HEX = '0123456789abcdef';

/** Deterministic randomness: SHA-256 of the seed and a counter, read 4 bytes at a time. */
class Rng {
  constructor(seed) {
    this.seed = seed;
    this.counter = 0;
    this.pool = Buffer.alloc(0);
  }

  unit() {
    if (this.pool.length < 4) {
      this.counter += 1;
      this.pool = createHash('sha256').update(`${this.seed}:${this.counter}`).digest();
    }
    const value = this.pool.readUInt32BE(0);
    this.pool = this.pool.subarray(4);
    return value / 2 ** 32;
  }

  int(max) {
    return Math.floor(this.unit() * max);
  }

  of(items) {
    return items[this.int(items.length)];
  }

  chars(alphabet, length) {
    let out = '';
    for (let i = 0; i < length; i += 1) out += alphabet[this.int(alphabet.length)];
    return out;
  }

  /** Mixed-case alphanumerics with each class present, as real keys have. */
  alnum(length) {
    return (
      this.chars(UPPER, 1) + this.chars(DIGITS, 1) + this.chars(LOWER, 1) + this.chars(ALNUM, length - 3)
    );
  }

  b64(length) {
    return this.alnum(3) + this.chars(B64, length - 3);
  }

  b64url(length) {
    return this.alnum(3) + this.chars(B64URL, length - 3);
  }

  hex(length) {
    return this.chars(HEX, length);
  }

  word() {
    return this.of([
      'alpha',
      'orion',
      'delta',
      'atlas',
      'lumen',
      'kestrel',
      'harbor',
      'quartz',
      'ember',
      'nova',
    ]);
  }

  uuid() {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${this.of(['8', '9', 'a', 'b'])}${this.hex(3)}-${this.hex(12)}`;
  }

  pem(label) {
    const lines = Array.from({ length: 3 + this.int(6) }, () => this.b64(64));
    return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
  }

  jwt() {
    const header = Buffer.from(JSON.stringify({ alg: this.of(['HS256', 'RS256', 'ES256']), typ: 'JWT' }));
    const claims = { sub: this.alnum(10), iat: 1_780_000_000 + this.int(9_999_999), aud: this.word() };
    return `${header.toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${this.b64url(43)}`;
  }

  /** A card number of `length` digits starting with `prefix`, with a valid Luhn check digit. */
  card(prefix, length) {
    const body = prefix + this.chars(DIGITS, length - prefix.length - 1);
    let sum = 0;
    for (let i = 0; i < body.length; i += 1) {
      // Positions counted from the right of the final number: the body's last digit is doubled.
      let digit = Number(body[body.length - 1 - i]);
      if (i % 2 === 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    return body + String((10 - (sum % 10)) % 10);
  }

  /** An IBAN of `country` with a BBAN of `length` (starting with `bank`, if given) and correct ISO 13616 check digits. */
  iban(country, length, bank = '') {
    const bban = bank + this.chars(DIGITS, length - bank.length);
    const numeric = [...`${bban}${country}00`]
      .map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c))
      .join('');
    let remainder = 0;
    for (const digit of numeric) remainder = (remainder * 10 + Number(digit)) % 97;
    return `${country}${String(98 - remainder).padStart(2, '0')}${bban}`;
  }

  ipv6() {
    const groups = Array.from({ length: 8 }, () => this.hex(1 + this.int(4)).replace(/^0+(?=.)/, ''));
    if (this.int(2) === 0) return `2001:db8:${groups.slice(2, 4).join(':')}::${groups[7]}`;
    return `2001:db8:${groups.slice(2).join(':')}`;
  }
}

/** Groups digits in fours with `separator`. */
function grouped(digits, separator) {
  return digits.match(/.{1,4}/g).join(separator);
}

/**
 * Positive templates: `[kind, make]` where `make(rng)` returns `[text, secret]`. Several
 * surroundings per kind, as the secret would appear in a prompt, a tool call, a log or a diff.
 */
const POSITIVES = [
  ['aws_access_key_id', (r) => wrap(`export AWS_ACCESS_KEY_ID=%s`, `AKIA${r.chars(UPPER + DIGITS, 16)}`)],
  ['aws_access_key_id', (r) => wrap(`temporary creds %s from STS`, `ASIA${r.chars(UPPER + DIGITS, 16)}`)],
  ['aws_access_key_id', (r) => wrap(`"AccessKeyId": "%s",`, `AKIA${r.chars(UPPER + DIGITS, 16)}`)],
  ['aws_secret_access_key', (r) => wrap(`aws_secret_access_key = %s`, r.b64(40))],
  ['aws_secret_access_key', (r) => wrap(`"SecretAccessKey": "%s"`, r.b64(40))],
  ['aws_secret_access_key', (r) => wrap(`AWS secret key: %s`, r.b64(40))],
  ['aws_session_token', (r) => wrap(`AWS_SESSION_TOKEN=%s`, r.b64(200 + r.int(200)))],
  ['aws_session_token', (r) => wrap(`"SessionToken": "%s"`, `IQoJb3JpZ2luX2Vj${r.b64(250)}`)],
  ['aws_session_token', (r) => wrap(`X-Amz-Security-Token: %s`, `FwoGZXIvYXdz${r.b64(180)}`)],
  [
    'gcp_api_key',
    (r) => wrap(`https://maps.googleapis.com/maps/api/geocode/json?key=%s`, `AIza${r.b64url(35)}`),
  ],
  ['gcp_api_key', (r) => wrap(`GOOGLE_API_KEY="%s"`, `AIza${r.b64url(35)}`)],
  [
    'gcp_service_account_key',
    (r) =>
      wrap(
        `{"type":"service_account","project_id":"${r.word()}-${r.int(999)}","private_key_id":"${r.hex(40)}","private_key":"%s\\n","client_email":"svc@${r.word()}.iam.gserviceaccount.com"}`,
        r.pem('PRIVATE KEY').replace(/\n/g, '\\n'),
      ),
  ],
  [
    'gcp_service_account_key',
    (r) => wrap(`creds = {\n  "private_key": "%s"\n}`, r.pem('PRIVATE KEY').replace(/\n/g, '\\n')),
  ],
  ['azure_storage_key', (r) => wrap(`AccountKey=%s`, `${r.b64(86)}==`)],
  [
    'azure_storage_key',
    (r) => wrap(`az storage blob list --account-key SharedAccessKey=%s`, `${r.b64(43)}=`),
  ],
  [
    'azure_sas_token',
    (r) =>
      wrap(
        `curl "https://${r.word()}.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-01T00:00:00Z&sig=%s"`,
        encodeURIComponent(`${r.b64(43)}=`),
      ),
  ],
  ['azure_sas_token', (r) => wrap(`?sig=%s&sv=2021-08-06&sr=c&sp=rl`, encodeURIComponent(`${r.b64(43)}=`))],
  [
    'azure_connection_string',
    (r) =>
      wrap(
        `AZURE_STORAGE_CONNECTION_STRING="%s"`,
        `DefaultEndpointsProtocol=https;AccountName=${r.word()}${r.int(999)};AccountKey=${r.b64(86)}==;EndpointSuffix=core.windows.net`,
      ),
  ],
  [
    'azure_connection_string',
    (r) =>
      wrap(
        `bus: %s`,
        `Endpoint=sb://${r.word()}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${r.b64(43)}=`,
      ),
  ],
  ['github_token', (r) => wrap(`GITHUB_TOKEN=%s`, `ghp_${r.alnum(36)}`)],
  ['github_token', (r) => wrap(`git push with token %s failed`, `ghp_${r.alnum(36)}`)],
  ['github_token', (r) => wrap(`"token": "%s"`, `github_pat_${r.alnum(22)}_${r.alnum(59)}`)],
  ['github_token', (r) => wrap(`oauth access token %s granted`, `gho_${r.alnum(36)}`)],
  ['github_token', (r) => wrap(`installation token %s`, `${r.of(['ghs', 'ghu'])}_${r.alnum(36)}`)],
  ['github_token', (r) => wrap(`refresh_token: %s`, `ghr_${r.alnum(76)}`)],
  ['gitlab_token', (r) => wrap(`PRIVATE-TOKEN: %s`, `glpat-${r.b64url(20)}`)],
  ['gitlab_token', (r) => wrap(`git clone with %s`, `glpat-${r.alnum(20)}`)],
  [
    'slack_token',
    (r) => wrap(`SLACK_BOT_TOKEN=%s`, `xoxb-${r.chars(DIGITS, 12)}-${r.chars(DIGITS, 13)}-${r.alnum(24)}`),
  ],
  [
    'slack_token',
    (r) =>
      wrap(
        `user token %s`,
        `xoxp-${r.chars(DIGITS, 12)}-${r.chars(DIGITS, 12)}-${r.chars(DIGITS, 13)}-${r.hex(32)}`,
      ),
  ],
  [
    'slack_token',
    (r) => wrap(`app-level %s`, `xapp-1-A${r.chars(UPPER + DIGITS, 10)}-${r.chars(DIGITS, 13)}-${r.hex(64)}`),
  ],
  [
    'slack_webhook',
    (r) =>
      wrap(
        `notify %s on failure`,
        `https://hooks.slack.com/services/T${r.chars(UPPER + DIGITS, 8)}/B${r.chars(UPPER + DIGITS, 10)}/${r.alnum(24)}`,
      ),
  ],
  [
    'slack_webhook',
    (r) =>
      wrap(
        `webhook_url: "%s"`,
        `https://hooks.slack.com/workflows/T${r.chars(UPPER + DIGITS, 8)}/A${r.chars(UPPER + DIGITS, 10)}/${r.chars(DIGITS, 18)}/${r.alnum(24)}`,
      ),
  ],
  ['stripe_key', (r) => wrap(`stripe.api_key = '%s'`, `sk_live_${r.alnum(24 + r.int(75))}`)],
  ['stripe_key', (r) => wrap(`Stripe(%s)`, `${r.of(['rk_live_', 'sk_test_', 'rk_test_'])}${r.alnum(24)}`)],
  ['openai_key', (r) => wrap(`OPENAI_API_KEY=%s`, `sk-${r.alnum(48)}`)],
  ['openai_key', (r) => wrap(`client = OpenAI(api_key="%s")`, `sk-proj-${r.b64url(156)}`)],
  ['openai_key', (r) => wrap(`using %s for batch jobs`, `sk-svcacct-${r.b64url(120)}`)],
  ['anthropic_key', (r) => wrap(`x-api-key: %s`, `sk-ant-api03-${r.b64url(93)}AA`)],
  ['anthropic_key', (r) => wrap(`ANTHROPIC_API_KEY=%s claude`, `sk-ant-api03-${r.b64url(93)}AA`)],
  ['anthropic_key', (r) => wrap(`admin key %s`, `sk-ant-admin01-${r.b64url(93)}AA`)],
  ['npm_token', (r) => wrap(`//registry.npmjs.org/:_authToken=%s`, `npm_${r.alnum(36)}`)],
  ['npm_token', (r) => wrap(`NPM_TOKEN: %s`, `npm_${r.alnum(36)}`)],
  ['pypi_token', (r) => wrap(`TWINE_PASSWORD=%s`, `pypi-AgEIcHlwaS5vcmc${r.b64url(70 + r.int(100))}`)],
  ['pypi_token', (r) => wrap(`uv publish --token %s`, `pypi-AgEIcHlwaS5vcmc${r.b64url(120)}`)],
  [
    'pem_private_key',
    (r) => wrap(`key file:\n%s\n`, r.pem(r.of(['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY']))),
  ],
  ['pem_private_key', (r) => wrap(`cat ~/.ssh/id_ed25519\n%s`, r.pem('OPENSSH PRIVATE KEY'))],
  ['pem_private_key', (r) => wrap(`gpg:\n%s`, r.pem('PGP PRIVATE KEY BLOCK'))],
  ['jwt', (r) => wrap(`Authorization: Bearer %s`, r.jwt())],
  ['jwt', (r) => wrap(`id_token=%s&state=xyz`, r.jwt())],
  ['jwt', (r) => wrap(`{"session":"%s"}`, r.jwt())],
  [
    'url_credentials',
    (r) => wrap(`DATABASE_URL=postgres://%s@db.internal:5432/app`, `${r.word()}:${r.alnum(16)}`),
  ],
  ['url_credentials', (r) => wrap(`mongodb+srv://%s@cluster0.example.net/test`, `admin:${r.alnum(12)}`)],
  ['url_credentials', (r) => wrap(`redis://%s@cache:6379/0`, `default:${r.alnum(20)}`)],
  ['url_credentials', (r) => wrap(`mysql://%s@10.0.0.5/shop`, `root:${r.alnum(10)}`)],
  ['url_credentials', (r) => wrap(`amqp://%s@rabbit.svc:5672/`, `guest:${r.alnum(14)}`)],
  [
    'url_credentials',
    (r) => wrap(`git clone https://%s@github.com/acme/repo.git`, `x-access-token:${r.alnum(30)}`),
  ],
  [
    'db_connection_string',
    (r) =>
      wrap(
        `Server=tcp:${r.word()}.database.windows.net,1433;Database=app;User ID=svc;Password=%s;Encrypt=true;`,
        r.alnum(16),
      ),
  ],
  [
    'db_connection_string',
    (r) => wrap(`Data Source=sql01;Initial Catalog=crm;User Id=sa;Pwd=%s;`, r.alnum(12)),
  ],
  ['db_connection_string', (r) => wrap(`Host=pg;Port=5432;Username=app;Password=%s`, `${r.alnum(10)}!`)],
  ['secret_assignment', (r) => wrap(`password=%s`, r.alnum(12))],
  ['secret_assignment', (r) => wrap(`DB_PASSWORD: "%s"`, r.alnum(10))],
  ['secret_assignment', (r) => wrap(`{"client_secret":"%s"}`, r.alnum(16))],
  ['secret_assignment', (r) => wrap(`secret: %s`, `${r.word()}-${r.word()}-${r.int(99)}`)],
  ['secret_assignment', (r) => wrap(`https://api.example.com/v1?api_key=%s&page=2`, r.hex(32))],
  ['secret_assignment', (r) => wrap(`jdbc:mysql://db:3306/shop?user=app&password=%s`, r.alnum(14))],
  ['secret_assignment', (r) => wrap(`self.access_token = "%s"`, r.alnum(24).toLowerCase())],
  ['authorization_header', (r) => wrap(`Authorization: Bearer %s`, r.alnum(32))],
  [
    'authorization_header',
    (r) => wrap(`-H "Authorization: Basic %s"`, Buffer.from(`${r.word()}:${r.alnum(12)}`).toString('base64')),
  ],
  ['high_entropy', (r) => wrap(`the value was %s yesterday`, r.alnum(40))],
  ['high_entropy', (r) => wrap(`X-Internal-Key %s`, r.alnum(32))],
  ['high_entropy', (r) => wrap(`export VENDOR_X=%s`, r.b64url(48))],
  ['email', (r) => wrap(`contact %s for access`, `${r.word()}.${r.chars(LOWER, 5)}@example.com`)],
  ['email', (r) => wrap(`From: "Dev" <%s>`, `${r.chars(LOWER, 6)}+ci@${r.word()}.example.org`)],
  [
    'email',
    (r) => wrap(`git config user.email %s`, `${r.chars(LOWER, 1)}.${r.chars(LOWER, 7)}@corp.example.co.uk`),
  ],
  ['ipv4', (r) => wrap(`connection from %s refused`, `203.0.113.${1 + r.int(254)}`)],
  ['ipv4', (r) => wrap(`ssh deploy@%s -p 22`, `198.51.100.${1 + r.int(254)}`)],
  ['ipv4', (r) => wrap(`X-Forwarded-For: %s`, `10.${r.int(255)}.${r.int(255)}.${1 + r.int(254)}`)],
  ['ipv6', (r) => wrap(`peer [%s]:443 closed`, r.ipv6())],
  ['ipv6', (r) => wrap(`client_ip=%s`, r.ipv6())],
  ['phone', (r) => wrap(`call %s tomorrow`, `+1 415 555 ${1000 + r.int(8999)}`)],
  ['phone', (r) => wrap(`tel: %s`, `+44 20 7946 ${1000 + r.int(8999)}`)],
  ['phone', (r) => wrap(`mobile %s`, `(212) 555-${1000 + r.int(8999)}`)],
  ['phone', (r) => wrap(`ring %s`, `+49 30 ${1000000 + r.int(8999999)}`)],
  ['payment_card', (r) => wrap(`card %s declined`, grouped(r.card('4', 16), ' '))],
  ['payment_card', (r) => wrap(`pan=%s`, r.card(r.of(['51', '52', '55', '2221']), 16))],
  ['payment_card', (r) => wrap(`amex %s exp 04/29`, r.card(r.of(['34', '37']), 15))],
  ['payment_card', (r) => wrap(`charged %s`, grouped(r.card('6011', 16), '-'))],
  ['iban', (r) => wrap(`pay to %s`, r.iban('DE', 18))],
  ['iban', (r) => wrap(`IBAN: %s`, grouped(r.iban('FR', 23), ' '))],
  ['iban', (r) => wrap(`beneficiary %s`, r.iban('NL', 14, 'ABNA'))],
];

function wrap(template, secret) {
  return [template.replace('%s', secret), secret];
}

/** Hard negatives: `[category, make]`, text that looks like a secret or PII and is neither. */
const NEGATIVES = [
  ['git_sha', (r) => `commit ${r.hex(40)}`],
  ['git_sha', (r) => `aws deploy of ${r.hex(40)} finished`],
  ['git_sha', (r) => `Merge ${r.hex(7)}..${r.hex(7)} into main`],
  ['git_sha', (r) => `https://github.com/acme/repo/commit/${r.hex(40)}`],
  ['uuid', (r) => `request ${r.uuid()} done`],
  ['uuid', (r) => `"session_id":"${r.uuid()}"`],
  ['uuid', (r) => r.uuid().toUpperCase()],
  ['content_hash', (r) => `digest sha256:${r.hex(64)}`],
  ['content_hash', (r) => `${r.hex(64)}  dist/app.tar.gz`],
  ['content_hash', (r) => `md5 ${r.hex(32)}`],
  ['content_hash', (r) => `integrity sha512-${r.b64(86)}==`],
  ['content_hash', (r) => `trace ${r.hex(32)} span ${r.hex(16)}`],
  ['content_hash', (r) => `ghcr.io/acme/app@sha256:${r.hex(64)}`],
  ['base64_image', (r) => `<img src="data:image/png;base64,${r.b64(300 + r.int(300))}">`],
  ['base64_image', (r) => `background: url(data:image/svg+xml;base64,${r.b64(200)})`],
  [
    'version',
    (r) => `upgraded to ${r.int(20)}.${r.int(30)}.${r.int(99)} from v${r.int(20)}.${r.int(30)}.${r.int(9)}`,
  ],
  ['version', (r) => `version ${1 + r.int(9)}.${r.int(9)}.${r.int(9)}.${r.int(99)}`],
  ['version', (r) => `"typescript": "^${r.int(6)}.${r.int(9)}.${r.int(9)}-rc.${r.int(5)}"`],
  [
    'version',
    (r) => `Kafka ${r.int(5)}.${r.int(9)}.${r.int(9)} and Node ${18 + r.int(5)}.${r.int(20)}.${r.int(9)}`,
  ],
  ['file_path', (r) => `/usr/local/lib/node_modules/${r.word()}/lib/${r.word()}.js`],
  ['file_path', (r) => `src/components/${r.word()}/${r.word()[0].toUpperCase()}${r.word()}Card.tsx`],
  ['file_path', (r) => `C:\\Users\\${r.word()}\\AppData\\Local\\Temp\\build-${r.int(999)}`],
  [
    'file_path',
    (r) => `node_modules/@aispm/${r.word()}/dist/generated/index.d.ts:${r.int(400)}:${r.int(80)}`,
  ],
  ['url', (r) => `https://github.com/acme/${r.word()}/blob/main/src/${r.word()}.ts#L${r.int(500)}`],
  ['url', (r) => `https://example.com/${r.word()}?page=${r.int(50)}&sort=desc#top`],
  ['url', (r) => `git@github.com:acme/${r.word()}.git`],
  [
    'identifier',
    (r) => `get${r.word().replace(/^./, (c) => c.toUpperCase())}AccountSettingsForTenant${r.int(9)}`,
  ],
  ['identifier', (r) => `k8s-prod-eu-west-${1 + r.int(3)}-${r.word()}-${r.int(99)}`],
  ['identifier', (r) => `evt_${r.chars('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 26).replace(/^./, '0')}`],
  ['identifier', (r) => `aispm.${r.word()}.raw`],
  [
    'timestamp',
    (r) =>
      `2026-${String(1 + r.int(12)).padStart(2, '0')}-${String(1 + r.int(28)).padStart(2, '0')}T0${r.int(9)}:1${r.int(9)}:2${r.int(9)}Z`,
  ],
  ['timestamp', (r) => `epoch ${1_700_000_000_000 + r.int(99_999_999)} ms`],
  ['number', (r) => `population ${r.int(9)},${r.int(899) + 100},${r.int(899) + 100} and pi 3.14159`],
  ['number', (r) => `listening on 127.0.0.1:${1024 + r.int(60000)} and 0.0.0.0:${1024 + r.int(60000)}`],
  ['number', (r) => `invoice ${r.int(9999999999)} total ${r.int(999)}.${r.int(99)}`],
  ['code', () => 'interface Login { password: string; token?: undefined }'],
  ['code', (r) => `token_count: ${r.int(9999)}, max_tokens: ${r.int(9999)}`],
  ['code', (r) => `std::vector<int> and ${r.word()}::Bar::baz`],
  ['code', (r) => `if (token == expected) return ${r.word()};`],
  ['code', (r) => `const ${r.word()}Secret = process.env.${r.word().toUpperCase()}_SECRET;`],
  ['code', () => 'password: [REDACTED:secret_assignment]'],
  ['prose', (r) => `The agent opened a pull request for ${r.word()} and asked for approval before merging.`],
  ['prose', (r) => `Please summarise the failing tests in run ${r.int(9999)} and propose a fix.`],
  ['prose', () => 'Basic authentication is disabled on this endpoint; use the token flow instead.'],
  ['prose', (r) => `Rotate the ${r.word()} API key every 90 days and store it in the vault.`],
  ['prose', (r) => `The password policy requires ${8 + r.int(8)} characters and one digit.`],
  ['prose', (r) => `Use sk-learn-${r.word()}-pipeline for the baseline.`],
];

function build() {
  const rng = new Rng(SEED);
  const positives = [];
  for (const [kind, make] of POSITIVES) {
    for (let i = 0; i < PER_TEMPLATE; i += 1) {
      const [text, secret] = make(rng);
      positives.push({ kind, text, secret });
    }
  }
  const negatives = [];
  for (const [category, make] of NEGATIVES) {
    for (let i = 0; i < 2 * PER_TEMPLATE; i += 1) negatives.push({ category, text: make(rng) });
  }
  const seen = new Set();
  const unique = negatives.filter(({ text }) => !seen.has(text) && seen.add(text));
  const jsonl = (rows) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';
  return { 'positives.jsonl': jsonl(positives), 'negatives.jsonl': jsonl(unique) };
}

module.exports = { build, OUT_DIR };

if (require.main === module) {
  const files = build();
  const check = process.argv.includes('--check');
  let drift = false;
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(OUT_DIR, name);
    if (!check) writeFileSync(file, content);
    else if (readFileSync(file, 'utf8') !== content) {
      console.error(`${path.relative(process.cwd(), file)} differs from the generator`);
      drift = true;
    }
  }
  if (drift) process.exit(1);
  console.log(`${check ? 'checked' : 'wrote'} ${Object.keys(files).join(', ')} in ${OUT_DIR}`);
}
