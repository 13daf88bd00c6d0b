/**
 * The redaction rule set, as data: one row per format. `redactString` runs the rows in order;
 * a row runs only when the text contains one of its keywords (case-insensitively), and a
 * candidate its regex finds is a finding only when its check passes.
 *
 * gitleaks (config/gitleaks.toml, v8) is the reference these rows were compared with; the
 * `gitleaks` column names the rule ids each row covers. The regexes are written for this
 * scanner, not copied: gitleaks scans source files and tunes for precision, a redactor on the
 * way to an audit trail errs towards recall (a redacted harmless value costs less than a
 * secret kept forever in a WORM store), so prefixes accept a range of lengths where gitleaks
 * pins one.
 *
 * Every regex is linear: a fixed prefix, then bounded or single-class runs, no nested
 * quantifiers over overlapping classes. `redaction.test.ts` runs each row on 1 MB of hostile
 * text built from its own keywords.
 */

import {
  cardLength,
  hasMixedCase,
  isBasicCredential,
  isOpaqueToken,
  isSecretName,
  isSecretValue,
  minEntropy,
  phoneLength,
} from './redaction-checks.js';

export type SecretKind =
  | 'api_key'
  | 'aws_access_key'
  | 'github_token'
  | 'gitlab_token'
  | 'npm_token'
  | 'huggingface_token'
  | 'sendgrid_key'
  | 'azure_storage_key'
  | 'google_oauth_secret'
  | 'slack_token'
  | 'jwt'
  | 'pem'
  | 'bearer'
  | 'basic_auth'
  | 'url_credentials'
  | 'url_token'
  | 'secret_assignment';

export type PiiKind = 'email' | 'phone' | 'card_number';

export type RedactionKind = SecretKind | PiiKind;

export interface RedactionRule {
  /** Stable id (used by the tests and the README table). */
  readonly id: string;
  /** The tag the finding becomes: `[REDACTED:<kind>]`. */
  readonly kind: RedactionKind;
  readonly description: string;
  /** gitleaks rule ids this row corresponds to; empty when gitleaks has none. */
  readonly gitleaks: readonly string[];
  /** Personal data (masked only with `pii`), not a secret. */
  readonly pii: boolean;
  /** Lower-case literals: the row runs only on text that contains one. */
  readonly keywords: readonly string[];
  /** For rows without keywords: a cheap test the text must pass. */
  readonly hint?: RegExp;
  /** Global. With `keep`, capture group 1 (`password=`, `Bearer `) stays before the tag. */
  readonly re?: RegExp;
  readonly keep?: boolean;
  /** Test of the candidate (without the kept prefix, which comes second): entropy, case, decoding. */
  readonly check?: (secret: string, kept: string) => boolean;
  /**
   * For candidates whose end needs a check (Luhn, digit counts): the length of the finding at
   * the start of the match, 0 for none. A rejected candidate is retried one character later.
   */
  readonly accept?: (match: string) => number;
  /** A procedural scan instead of `re` (URL credentials): returns the redacted text. */
  readonly scan?: 'url_credentials';
}

// Entropy floors (bits per character, over the whole match) only reject placeholders such as
// `ghp_000…` or `AKIAXXXXXXXXXXXXXXXX`: a real token has 4 to 6 bits. Where the prefix is weak
// (Twilio `SK`, Entra `…Q~`) the floor is 3, as in gitleaks.

// A token ends where its alphabet ends: no `\b` after `-` or `_` alphabets, which \b mishandles.
const END = '(?![A-Za-z0-9_-])';
const re = (source: string, flags = 'g') => new RegExp(source, flags);

const SECRET_KEYWORDS =
  'passphrase|password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|session[_-]?token|private[_-]?key|signing[_-]?key|encryption[_-]?key';

// Order matters: whole blocks and structured tokens first, so a JWT inside a Bearer header or a
// key inside a PEM block is counted once, as the outer kind; generic assignments after the
// prefixed formats, so `password=npm_…` is one npm_token; personal data last.
export const REDACTION_RULES: readonly RedactionRule[] = [
  {
    id: 'private-key',
    kind: 'pem',
    description: 'PEM private key block (RSA, EC, OpenSSH, PKCS#8, encrypted, PGP)',
    gitleaks: ['private-key'],
    pii: false,
    keywords: ['-----begin'],
    // Up to the END line, or to the end of the text when it was cut.
    re: /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  {
    id: 'bearer',
    kind: 'bearer',
    description: '`Bearer <token>` (a digit is required, so prose stays)',
    gitleaks: ['curl-auth-header'],
    pii: false,
    keywords: ['bearer'],
    re: /\b(Bearer\s+)(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}/gi,
    keep: true,
  },
  {
    id: 'basic-auth',
    kind: 'basic_auth',
    description: '`Basic <base64>` that decodes to `user:password`',
    gitleaks: ['curl-auth-header', 'curl-auth-user'],
    pii: false,
    keywords: ['basic'],
    re: /\b(Basic\s+)[A-Za-z0-9+/]{8,}={0,2}/g,
    keep: true,
    check: isBasicCredential,
  },
  {
    id: 'url-credentials',
    kind: 'url_credentials',
    description:
      '`scheme://user:password@host` in any scheme; the last `@` before a host ends the password',
    gitleaks: [],
    pii: false,
    keywords: ['://'],
    scan: 'url_credentials',
  },
  {
    id: 'agent-audit-run-token',
    kind: 'api_key',
    description: 'agent-audit run token `aat1.<claims>.<signature>` (`@agent-audit/credentials`)',
    gitleaks: [],
    pii: false,
    keywords: ['aat1.'],
    re: /\baat1\.[A-Za-z0-9_-]{16,8192}\.[A-Za-z0-9_-]{86}(?![A-Za-z0-9_-])/g,
  },
  {
    id: 'jwt',
    kind: 'jwt',
    description: 'JSON Web Token `eyJ….….…`',
    gitleaks: ['jwt'],
    pii: false,
    keywords: ['eyj'],
    // Bounded segments keep text like "eyJ-eyJ-eyJ-…" linear (a JWT header is short).
    re: /\beyJ[A-Za-z0-9_-]{2,512}\.[A-Za-z0-9_-]{2,65536}\.[A-Za-z0-9_-]{0,8192}/g,
  },
  {
    id: 'sk-key',
    kind: 'api_key',
    description: '`sk-…` keys (OpenAI `sk-proj-`/`sk-svcacct-`, Anthropic `sk-ant-api03-`, others)',
    gitleaks: ['openai-api-key', 'anthropic-api-key', 'anthropic-admin-api-key'],
    pii: false,
    keywords: ['sk-'],
    re: re(`\\bsk-(?:[A-Za-z0-9]{1,24}-){0,3}[A-Za-z0-9_-]{20,}`),
  },
  {
    id: 'stripe',
    kind: 'api_key',
    description: 'Stripe `sk_live_`, `rk_live_`, `pk_live_` (and `_test_`) keys',
    gitleaks: ['stripe-access-token'],
    pii: false,
    keywords: ['sk_', 'rk_', 'pk_'],
    re: re(`\\b(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{10,247}${END}`),
  },
  {
    id: 'google-api-key',
    kind: 'api_key',
    description: 'Google API key `AIza…`',
    gitleaks: ['gcp-api-key'],
    pii: false,
    keywords: ['aiza'],
    re: re(`\\bAIza[A-Za-z0-9_-]{35}${END}`),
  },
  {
    id: 'google-oauth-client-secret',
    kind: 'google_oauth_secret',
    description: 'Google OAuth client secret `GOCSPX-…`',
    gitleaks: [],
    pii: false,
    keywords: ['gocspx-'],
    re: re(`\\bGOCSPX-[A-Za-z0-9_-]{24,40}${END}`),
  },
  {
    id: 'aws-access-key-id',
    kind: 'aws_access_key',
    description: 'AWS key id `AKIA…`, `ASIA…` and the other key-id prefixes',
    gitleaks: ['aws-access-token'],
    pii: false,
    keywords: ['akia', 'asia', 'abia', 'acca', 'aida', 'aroa', 'a3t'],
    re: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}\b/g,
    check: minEntropy(2),
  },
  {
    id: 'aws-bedrock-api-key',
    kind: 'api_key',
    description: 'Amazon Bedrock long-lived API key `ABSK…`',
    gitleaks: ['aws-amazon-bedrock-api-key-long-lived'],
    pii: false,
    keywords: ['absk'],
    re: /\bABSK[A-Za-z0-9+/]{109,269}={0,2}/g,
  },
  {
    id: 'github',
    kind: 'github_token',
    description: 'GitHub `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` tokens and `github_pat_`',
    gitleaks: [
      'github-pat',
      'github-oauth',
      'github-app-token',
      'github-refresh-token',
      'github-fine-grained-pat',
    ],
    pii: false,
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
    check: minEntropy(2),
  },
  {
    id: 'gitlab',
    kind: 'gitlab_token',
    description:
      'GitLab `glpat-` and the other `gl…-` tokens (deploy, runner, feed, OAuth, CI job, …), `GR1348941…`',
    gitleaks: [
      'gitlab-pat',
      'gitlab-pat-routable',
      'gitlab-deploy-token',
      'gitlab-runner-authentication-token',
      'gitlab-runner-authentication-token-routable',
      'gitlab-feed-token',
      'gitlab-incoming-mail-token',
      'gitlab-kubernetes-agent-token',
      'gitlab-oauth-app-secret',
      'gitlab-ptt',
      'gitlab-scim-token',
      'gitlab-feature-flag-client-token',
      'gitlab-cicd-job-token',
      'gitlab-rrt',
    ],
    pii: false,
    keywords: [
      'glpat-',
      'gldt-',
      'glrt-',
      'glft-',
      'glimt-',
      'glagent-',
      'gloas-',
      'glptt-',
      'glsoat-',
      'glffct-',
      'glcbt-',
      'gr1348941',
    ],
    re: /\b(?:gl(?:pat|dt|rt|ft|imt|agent|oas|ptt|soat|ffct|cbt)-[A-Za-z0-9_.-]{20,300}|GR1348941[A-Za-z0-9_-]{20,64})/g,
    check: minEntropy(2),
  },
  {
    id: 'gitlab-session',
    kind: 'gitlab_token',
    description: 'GitLab session cookie `_gitlab_session=…`',
    gitleaks: ['gitlab-session-cookie'],
    pii: false,
    keywords: ['_gitlab_session='],
    re: /(_gitlab_session=)[0-9a-z]{32}/g,
    keep: true,
  },
  {
    id: 'npm',
    kind: 'npm_token',
    description: 'npm access token `npm_…`',
    gitleaks: ['npm-access-token'],
    pii: false,
    keywords: ['npm_'],
    re: re(`\\bnpm_[A-Za-z0-9]{36}${END}`),
    check: minEntropy(2),
  },
  {
    id: 'huggingface',
    kind: 'huggingface_token',
    description: 'Hugging Face `hf_…` and organization `api_org_…` tokens (34 mixed-case letters)',
    gitleaks: ['huggingface-access-token', 'huggingface-organization-api-token'],
    pii: false,
    keywords: ['hf_', 'api_org_'],
    re: re(`\\b(?:hf_|api_org_)[A-Za-z]{34}${END}`),
    check: (s) => hasMixedCase(s.slice(s.indexOf('_') + 1)) && minEntropy(2)(s),
  },
  {
    id: 'sendgrid',
    kind: 'sendgrid_key',
    description: 'SendGrid API key `SG.<22>.<43>`',
    gitleaks: ['sendgrid-api-token'],
    pii: false,
    keywords: ['sg.'],
    re: re(`\\bSG\\.[A-Za-z0-9_-]{16,32}\\.[A-Za-z0-9_-]{16,64}${END}`),
    check: minEntropy(2),
  },
  {
    id: 'azure-storage-key',
    kind: 'azure_storage_key',
    description:
      'Azure `AccountKey=` (storage, 88 base64 characters) and `SharedAccessKey=` (Service Bus, Event Hubs)',
    gitleaks: [],
    pii: false,
    keywords: ['accountkey', 'sharedaccesskey'],
    re: /((?:Account|SharedAccess)Key[ \t]{0,4}=[ \t]{0,4})[A-Za-z0-9+/]{40,100}={0,2}/gi,
    keep: true,
  },
  {
    id: 'azure-ad-client-secret',
    kind: 'api_key',
    description: 'Microsoft Entra (Azure AD) client secret `…8Q~…`',
    gitleaks: ['azure-ad-client-secret'],
    pii: false,
    keywords: ['q~'],
    re: /(?<![A-Za-z0-9_~.])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/g,
    check: minEntropy(3),
  },
  {
    id: 'slack',
    kind: 'slack_token',
    description: 'Slack `xox[abposre]-…`, `xoxe.xoxp-…` and app-level `xapp-…` tokens',
    gitleaks: [
      'slack-bot-token',
      'slack-user-token',
      'slack-app-token',
      'slack-legacy-token',
      'slack-legacy-bot-token',
      'slack-legacy-workspace-token',
      'slack-config-access-token',
      'slack-config-refresh-token',
    ],
    pii: false,
    keywords: ['xox', 'xapp-'],
    re: /\b(?:xox[abposre]|xoxe\.xox[bp]|xapp)-[A-Za-z0-9-]{10,}/g,
  },
  {
    id: 'slack-webhook',
    kind: 'slack_token',
    description: 'Slack incoming-webhook URL path',
    gitleaks: ['slack-webhook-url'],
    pii: false,
    keywords: ['hooks.slack.com'],
    re: /(hooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9+/_-]{20,128}/g,
    keep: true,
  },
  {
    id: 'vendor-hex-tokens',
    kind: 'api_key',
    description:
      'Prefixed tokens: DigitalOcean `dop_v1_`, Shopify `shpat_`, Pulumi `pul-`, Databricks `dapi`, Sentry `sntryu_`, RubyGems `rubygems_`, Postman `PMAK-`',
    gitleaks: [
      'digitalocean-pat',
      'digitalocean-access-token',
      'digitalocean-refresh-token',
      'shopify-access-token',
      'shopify-custom-access-token',
      'shopify-private-app-access-token',
      'shopify-shared-secret',
      'pulumi-api-token',
      'databricks-api-token',
      'sentry-user-token',
      'rubygems-api-token',
      'postman-api-token',
    ],
    pii: false,
    keywords: ['_v1_', 'shp', 'pul-', 'dapi', 'sntryu_', 'rubygems_', 'pmak-'],
    re: re(
      `\\b(?:do[opr]_v1_[a-f0-9]{64}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|pul-[a-f0-9]{40}|dapi[a-f0-9]{32}(?:-\\d)?|sntryu_[a-f0-9]{64}|rubygems_[a-f0-9]{48}|PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34})${END}`,
    ),
    check: minEntropy(2),
  },
  {
    id: 'vendor-tokens',
    kind: 'api_key',
    description:
      'Prefixed tokens: Perplexity `pplx-`, Linear `lin_api_`, Doppler `dp.pt.`, Grafana `glc_`/`glsa_`, PyPI `pypi-AgEI…`, Vault `hvs.`, Heroku `HRKU-`, age `AGE-SECRET-KEY-1`',
    gitleaks: [
      'perplexity-api-key',
      'linear-api-key',
      'doppler-api-token',
      'grafana-cloud-api-token',
      'grafana-service-account-token',
      'pypi-upload-token',
      'vault-service-token',
      'vault-batch-token',
      'heroku-api-key-v2',
      'age-secret-key',
    ],
    pii: false,
    keywords: [
      'pplx-',
      'lin_api_',
      'dp.',
      'glc_',
      'glsa_',
      'pypi-',
      'hvs.',
      'hvb.',
      'hrku-',
      'age-secret-key-1',
    ],
    re: re(
      `\\b(?:pplx-[A-Za-z0-9]{48}|lin_api_[A-Za-z0-9]{40}|dp\\.(?:pt|st|ct|sa|scim|audit)\\.[A-Za-z0-9]{40,44}|glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}|hv[sb]\\.[A-Za-z0-9_-]{90,300}|HRKU-AA[A-Za-z0-9_-]{58}|AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})${END}`,
    ),
    check: minEntropy(2),
  },
  {
    id: 'twilio',
    kind: 'api_key',
    description: 'Twilio API key `SK` + 32 hex',
    gitleaks: ['twilio-api-key'],
    pii: false,
    keywords: ['sk'],
    re: /\bSK[0-9a-fA-F]{32}\b/g,
    check: minEntropy(3),
  },
  {
    id: 'url-token',
    kind: 'url_token',
    description:
      'Secret query parameters: `?token=`, `&access_token=`, `&api_key=`, `&sig=`, `&X-Amz-Signature=`, …',
    gitleaks: [],
    pii: false,
    // Every parameter name below ends in one of these.
    keywords: [
      'token=',
      'key=',
      'secret=',
      'password=',
      'passwd=',
      'passphrase=',
      'pwd=',
      'sig=',
      'signature=',
      'auth=',
      'session=',
      'sessionid=',
      'credential=',
    ],
    re: /([?&;](?:access_token|id_token|refresh_token|private_token|token|api_key|apikey|api-key|key|secret|client_secret|password|passwd|passphrase|pwd|sig|signature|auth|session|sessionid|x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature|x-goog-credential)=)[^&\s#"'<>]+/gi,
    keep: true,
  },
  {
    id: 'secret-assignment',
    kind: 'secret_assignment',
    description:
      '`password=…`, `passphrase: …`, `"api_key": "…"`, `client_secret=…`, `DB_PASSWORD: …` (not placeholders, variable references, code references or file paths)',
    gitleaks: ['generic-api-key', 'hashicorp-tf-password'],
    pii: false,
    keywords: [
      'pass',
      'pwd',
      'secret',
      'api_key',
      'api-key',
      'apikey',
      'access_key',
      'access-key',
      'accesskey',
      'token',
      'private_key',
      'private-key',
      'privatekey',
      'signing',
      'encryption',
    ],
    // The keyword may sit inside a longer name (aws_secret_access_key, DB_PASSWORD), so the
    // match starts at the keyword; a bare "token" is the next row's, or usage counts such as
    // "input_tokens": 1234 would go. Every run before the value is bounded: no backtracking
    // blow-up on hostile text.
    re: re(
      `((?:${SECRET_KEYWORDS})[\\w-]{0,32}["']?[ \\t]{0,8}[:=][ \\t]{0,8}["']?)(?!\\[REDACTED)[^\\s"',;&]{4,}`,
      'gi',
    ),
    keep: true,
    check: (value, name) => isSecretName(name) && isSecretValue(value),
  },
  {
    id: 'token-assignment',
    kind: 'secret_assignment',
    description:
      '`token: …`, `csrf_token=…` with an opaque value (≥ 16 characters, letters and digits, entropy ≥ 3)',
    gitleaks: ['generic-api-key'],
    pii: false,
    keywords: ['token'],
    re: /(token["']?[ \t]{0,8}[:=][ \t]{0,8}["']?)(?!\[REDACTED)[A-Za-z0-9._~+/=-]{16,}/gi,
    keep: true,
    check: (value, name) => isSecretName(name) && isOpaqueToken(value),
  },
  {
    id: 'email',
    kind: 'email',
    description: 'E-mail address',
    gitleaks: [],
    pii: true,
    keywords: ['@'],
    re: /\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b/g,
  },
  {
    id: 'card-number',
    kind: 'card_number',
    description: 'Payment card number: issuer prefix, 13–19 digits, valid Luhn check',
    gitleaks: [],
    pii: true,
    keywords: [],
    hint: /\d\d/,
    // Issuer prefixes (Visa, Mastercard, Amex, Discover, JCB, Diners) keep epoch-millisecond
    // times and ids out; no letter may touch the number, so hex digests are left alone.
    re: /(?<![\w.-])(?:4|5[1-5]|2[2-7]|3[04-8]|6[05])\d?(?:[ -]?\d){11,17}(?![\w])/g,
    accept: cardLength,
  },
  {
    id: 'phone',
    kind: 'phone',
    description: 'Phone number: a leading `+` (8–15 digits) or separators (10–15 digits)',
    gitleaks: [],
    pii: true,
    keywords: [],
    hint: /\d\d/,
    // A leading + or at least one separator is required, so bare ids, epoch times and
    // amounts are not phone numbers; ISO dates are excluded by the check.
    re: /(?<![\w+.:-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,5}){1,4}(?![\w:-])/g,
    accept: phoneLength,
  },
];
