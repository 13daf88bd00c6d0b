import { describe, expect, it } from 'vitest';
import { pick, prng } from '../../../test/support/prng.js';
import { hashValue, looksLikeSecret, type RedactionKind, redactString } from '../src/index.js';

// Fake secrets are assembled at run time so that no secret-shaped literal is committed.
const rep = (s: string, n: number) => s.repeat(n);
const FAKE = {
  openai: `sk-${rep('aB3dE5fG7h', 4)}`,
  openaiProject: `sk-proj-${rep('Qx9Rt2Yu8i', 5)}`,
  anthropic: `sk-ant-api03-${rep('Zz7Yy6Xx5W', 4)}`,
  stripe: `sk_${'live'}_${rep('4eC39HqLyj', 2)}`,
  google: `AIza${rep('SyD3fG5hJ7', 3)}abcde`,
  aws: `AKIA${rep('IOSF', 1)}ODNN7EXAMPLE`,
  github: `ghp_${rep('a1B2c3D4e5', 4)}`,
  githubPat: `github_pat_${rep('11ABCDEFG0', 3)}`,
  slack: `xoxb-${rep('1234567890', 2)}-abcdefABCDEF`,
  jwt: `eyJ${'hbGciOiJIUzI1NiJ9'}.eyJ${'zdWIiOiIxMjM0NTY3ODkwIn0'}.${'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'}`,
  pem: `-----BEGIN ${'RSA PRIVATE'} KEY-----\nMIIEow${rep('IBAAKCAQEA', 6)}\n-----END ${'RSA PRIVATE'} KEY-----`,
  bearerToken: `abc123${rep('.XyZ', 5)}`,
  basic: Buffer.from(`admin:${'hunter2'}`).toString('base64'),
  urlPassword: `p4ss${'w0rd'}`,
  queryToken: `tok_${rep('9f8e7d', 3)}`,
};

describe('redactString: secrets (row 32)', () => {
  it.each<[string, string, RedactionKind]>([
    ['OpenAI key', `key is ${FAKE.openai} ok`, 'api_key'],
    ['OpenAI project key', FAKE.openaiProject, 'api_key'],
    ['Anthropic key', `x=${FAKE.anthropic}`, 'api_key'],
    ['Stripe live key', `stripe ${FAKE.stripe}`, 'api_key'],
    ['Google API key', `g ${FAKE.google}`, 'api_key'],
    ['AWS access key id', `aws_access_key_id ${FAKE.aws}`, 'aws_access_key'],
    ['GitHub token', `token ${FAKE.github}`, 'github_token'],
    ['GitHub fine-grained PAT', FAKE.githubPat, 'github_token'],
    ['Slack token', FAKE.slack, 'slack_token'],
    ['JWT', `session ${FAKE.jwt}`, 'jwt'],
    ['PEM private key', `key:\n${FAKE.pem}\nend`, 'pem'],
    ['Bearer header', `Authorization: Bearer ${FAKE.bearerToken}`, 'bearer'],
    ['Basic header', `Authorization: Basic ${FAKE.basic}`, 'basic_auth'],
    [
      'credentials in a URL',
      `postgres://app:${FAKE.urlPassword}@db.internal:5432/x`,
      'url_credentials',
    ],
    [
      '?token= in a URL',
      `https://api.example.com/v1/items?page=2&token=${FAKE.queryToken}#top`,
      'url_token',
    ],
    ['password assignment', `{"user":"a","password":"${FAKE.urlPassword}"}`, 'secret_assignment'],
    ['AWS secret key by name', `aws_secret_access_key=${FAKE.urlPassword}x9`, 'secret_assignment'],
    ['env-style password', `DB_PASSWORD: ${FAKE.urlPassword}`, 'secret_assignment'],
  ])('%s', (_name, input, kind) => {
    const r = redactString(input);
    expect(r.hits[kind]).toBe(1);
    for (const secret of Object.values(FAKE)) {
      if (input.includes(secret)) expect(r.value).not.toContain(secret);
    }
    expect(r.value).toContain(`[REDACTED:${kind}]`);
  });

  it('counts each finding once, as the outermost kind', () => {
    const r = redactString(`Authorization: Bearer ${FAKE.jwt}`);
    expect(r.hits).toEqual({ bearer: 1 });
    expect(r.value).toBe('Authorization: Bearer [REDACTED:bearer]');
    const two = redactString(`${FAKE.openai} and ${FAKE.github} and ${FAKE.openai}`);
    expect(two.hits).toEqual({ api_key: 2, github_token: 1 });
  });
});

describe('redactString: PII (row 33)', () => {
  it.each<[string, string, RedactionKind, string]>([
    [
      'email',
      'contact jane.doe+x@mail.example.co.uk today',
      'email',
      'contact [REDACTED:email] today',
    ],
    ['phone, international', 'call +44 20 7946 0958 now', 'phone', 'call [REDACTED:phone] now'],
    ['phone, US format', 'call (555) 123-4567', 'phone', 'call [REDACTED:phone]'],
    ['phone, dashed', 'tel 555-123-4567.', 'phone', 'tel [REDACTED:phone].'],
    [
      'Visa card, spaced',
      'card 4111 1111 1111 1111 exp',
      'card_number',
      'card [REDACTED:card_number] exp',
    ],
    ['Mastercard, dashed', 'mc 5555-5555-5555-4444', 'card_number', 'mc [REDACTED:card_number]'],
    ['Amex', 'amex 378282246310005', 'card_number', 'amex [REDACTED:card_number]'],
  ])('%s', (_name, input, kind, expected) => {
    const r = redactString(input);
    expect(r.value).toBe(expected);
    expect(r.hits).toEqual({ [kind]: 1 });
  });

  it('pii: false leaves personal data, secrets: false leaves secrets', () => {
    expect(redactString('a@b.example.com', { pii: false }).hits).toEqual({});
    expect(redactString(FAKE.openai, { secrets: false }).hits).toEqual({});
  });
});

describe('redactString: no false positives on what the audit trail itself records', () => {
  const ok = [
    (hashValue({ a: 1 }) as { hash: string }).hash,
    `hmac-sha256:tenant-a:${'0123456789'.repeat(6)}abcd`,
    '0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b',
    '01938123-1234-7123-8123-123456789012',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'ak:4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdab0be',
    'cred:cred-key-1:9f86d081884c7d659a2feaa0c55ad015',
    '2026-11-25T21:49:38.123Z',
    '2026-11-25 21:49:38',
    '1764107378000',
    'version 1.45.0 and 10.100.200.300',
    'Order 4111111111111112 (not Luhn-valid)',
    'the bearer information is in the Basic functionality section',
    'risk-assessment-framework-document-version-two',
    'workflow.run_id=run-http-1, user:456, total 1,234,567.89 EUR',
    'https://example.com/path?page=2&sort=asc',
    '{"input_tokens":1234,"output_tokens":5678,"max_tokens":4096}',
    'gen_ai.usage.input_tokens=1234',
  ];
  it.each(ok)('%s', (s) => {
    const r = redactString(s);
    expect(r.hits).toEqual({});
    expect(r.value).toBe(s);
  });
});

describe('no catastrophic backtracking on hostile text', () => {
  // Each of these once took seconds to minutes at 100 KB (quadratic or worse); linear rules
  // finish them in milliseconds. A regression shows up as this test timing out.
  const n = 200_000;
  const hostile: Record<string, string> = {
    'a-a-a-': 'a-'.repeat(n / 2),
    'eyJ-eyJ-': 'eyJ-'.repeat(n / 4),
    'eyJxx.': 'eyJxx.'.repeat(n / 6),
    'password-password-': 'password-'.repeat(n / 9),
    'local part without domain': `${'a.'.repeat(n / 2)}@`,
    'x://b:': 'x://b:'.repeat(n / 6),
    'sk-sk-': 'sk-'.repeat(n / 3),
    '12-12-': '12-'.repeat(n / 3),
    '(12) ': '(12) '.repeat(n / 5),
    'Bearer ': 'Bearer '.repeat(n / 7),
  };
  it.each(Object.entries(hostile))(
    '%s',
    (_name, s) => {
      const r = redactString(s);
      expect(typeof r.value).toBe('string');
    },
    20_000,
  );
});

describe('looksLikeSecret (credential.ref refusal)', () => {
  it.each([
    FAKE.openai,
    FAKE.github,
    FAKE.jwt,
    FAKE.aws,
    `Bearer ${FAKE.bearerToken}`,
    'Zx8Kq2Lm9Np4Rt7Vw1Ys6Bc3Df5Gh0Jk',
  ])('refuses %s', (s) => {
    expect(looksLikeSecret(s)).toBe(true);
  });
  it.each([
    'cred:run-token-1',
    'cred:k1:9f86d081884c7d659a2feaa0c55ad015',
    'vault:secret/data/github#v3',
    'aws-iam-role/agent-prod',
    'user:456',
  ])('accepts %s', (s) => {
    expect(looksLikeSecret(s)).toBe(false);
  });
});

describe('fuzz: planted secrets and PII in random text are always found (seeded)', () => {
  const fillers = [
    'lorem ipsum',
    'the tool returned',
    'id=42',
    'a-b-c',
    '2026-01-02',
    'x:y',
    '(ok)',
    'ünïcödé',
    '\n',
    '"quoted"',
    'path/to/file.txt',
  ];
  const planted = (rnd: () => number): [string, RedactionKind][] => [
    [
      `sk-${Array.from({ length: 40 }, () => pick(rnd, [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'])).join('')}`,
      'api_key',
    ],
    [
      `AKIA${Array.from({ length: 16 }, () => pick(rnd, [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'])).join('')}`,
      'aws_access_key',
    ],
    [
      `ghp_${Array.from({ length: 36 }, () => pick(rnd, [...'abcdefXYZ0123456789'])).join('')}`,
      'github_token',
    ],
    [`user${Math.floor(rnd() * 1e6)}@example.org`, 'email'],
    ['4012 8888 8888 1881', 'card_number'],
  ];
  for (const seed of [7, 8, 9, 10]) {
    it(`seed ${seed}`, () => {
      const rnd = prng(seed);
      for (let i = 0; i < 200; i++) {
        const parts: string[] = [];
        const secrets = planted(rnd).filter(() => rnd() < 0.6);
        for (const [s] of secrets) {
          parts.push(pick(rnd, fillers), ' ', s, ' ', pick(rnd, fillers));
        }
        const text = parts.join('');
        const r = redactString(text);
        for (const [s, kind] of secrets) {
          expect(r.value).not.toContain(s);
          expect(r.hits[kind] ?? 0).toBeGreaterThanOrEqual(1);
        }
        expect(Object.values(r.hits).reduce((a, b) => a + (b ?? 0), 0)).toBe(secrets.length);
      }
    });
  }

  it('never throws on hostile strings and stays linear on long input', () => {
    const rnd = prng(11);
    for (let i = 0; i < 300; i++) {
      const s = Array.from({ length: Math.floor(rnd() * 300) }, () =>
        String.fromCharCode(Math.floor(rnd() * 0xffff)),
      ).join('');
      expect(() => redactString(s)).not.toThrow();
    }
    const long = `${'a-1 '.repeat(250_000)}${FAKE.openai}`;
    const r = redactString(long);
    expect(r.hits.api_key).toBe(1);
  });
});
