import { createHmac } from 'node:crypto';
import { type Attributes, context, SpanKind, trace } from '@opentelemetry/api';
import {
  ATTR_CREDENTIAL_AUDIENCE,
  ATTR_CREDENTIAL_EXPIRES_AT,
  ATTR_CREDENTIAL_ISSUER,
  ATTR_CREDENTIAL_REF,
  ATTR_CREDENTIAL_SCOPES,
} from './attributes.js';
import { getAuditHooks } from './audit-hooks.js';
import { type HashKey, hashKeyProblem } from './hash-value.js';
import { hrNow } from './internal/clock.js';
import {
  checkDate,
  checkString,
  checkStringArray,
  configurationError,
  invalidOption,
} from './internal/configuration.js';
import { runAttributes, safeHashKey } from './internal/run-attributes.js';
import { endSpan, log, put } from './internal/span-utils.js';
import { getTracer } from './internal/tracer.js';
import { looksLikeSecret } from './redaction.js';
import { getRunContext } from './run-context.js';
import { addRunEvent, eventAttributes, RUN_EVENT_CREDENTIAL_ISSUED } from './run-events.js';

export interface CredentialRefOptions {
  /**
   * The HMAC key. The default value is the hooks' `hashKey` (a resolver is asked with the
   * active run, so each tenant gets its own references); with no key at all this throws,
   * because an unkeyed hash of a short token can be brute-forced.
   */
  key?: HashKey;
  /** First segment of the reference. The default value is `cred`. */
  prefix?: string;
}

// Domain separation: a credential reference can never equal an input hash of the same string.
const DOMAIN = 'agent-audit/credential-ref/v1\u0000';

/**
 * A stable, non-reversible reference for a secret or token: `cred:<key-id>:<32 hex>` (128 bits of
 * HMAC-SHA256). The same secret and key give the same reference in every process, so a
 * reference found in a provider's log can be matched to the run that used it; without the key
 * the secret cannot be recovered or tested.
 */
export function credentialRef(
  secret: string | Uint8Array,
  options: CredentialRefOptions = {},
): string {
  if (!(typeof secret === 'string' || secret instanceof Uint8Array) || secret.length === 0) {
    throw configurationError('secret', 'a non-empty string or bytes', 'other');
  }
  const key = options.key ?? safeHashKey(getAuditHooks(), getRunContext());
  if (key === undefined) {
    throw configurationError(
      'key',
      'a { id, secret } HMAC key in options.key or setAuditHooks({ hashKey })',
      'undefined',
    );
  }
  const problem = hashKeyProblem(key);
  if (problem !== undefined) throw invalidOption('key', problem);
  const prefix = options.prefix ?? 'cred';
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(prefix)) {
    throw configurationError('prefix', '[a-z][a-z0-9_-]{0,31}', JSON.stringify(prefix));
  }
  const mac = createHmac('sha256', key.secret)
    .update(DOMAIN)
    .update(secret)
    .digest('hex')
    .slice(0, 32);
  return `${prefix}:${key.id}:${mac}`;
}

export interface CredentialIssuedOptions {
  /** The reference (from {@link credentialRef}), never the secret. Required. */
  ref: string;
  /** Scopes granted, e.g. `['repo:read', 'issues:write']`. */
  scopes?: string[];
  /** When the credential expires. */
  expiresAt?: Date;
  /** Who issued it, e.g. `vault`, `github-app:123`. */
  issuer?: string;
  /** The service it is meant for (`credential.audience`), e.g. a gateway's audience. */
  audience?: string;
}

/**
 * Records that a credential was issued for the active run (event `credential.issued`, with the
 * run id, agent and principal), so the reference in an external provider's log maps back to
 * them. A `ref` that looks like a secret is refused with a Configuration error and recorded
 * nowhere.
 */
export function recordCredentialIssued(options: CredentialIssuedOptions): void {
  checkString('ref', options?.ref, true);
  if (looksLikeSecret(options.ref)) {
    throw configurationError(
      'ref',
      'a credential reference such as credentialRef(secret)',
      'a value that looks like a secret',
    );
  }
  checkString('issuer', options.issuer, false);
  checkString('audience', options.audience, false);
  checkStringArray('scopes', options.scopes);
  checkDate('expiresAt', options.expiresAt);
  try {
    const ctx = context.active();
    const run = getRunContext(ctx);
    const attrs: Attributes = { [ATTR_CREDENTIAL_REF]: options.ref };
    if (options.scopes !== undefined) attrs[ATTR_CREDENTIAL_SCOPES] = [...options.scopes];
    put(attrs, ATTR_CREDENTIAL_EXPIRES_AT, options.expiresAt?.toISOString());
    put(attrs, ATTR_CREDENTIAL_ISSUER, options.issuer);
    put(attrs, ATTR_CREDENTIAL_AUDIENCE, options.audience);
    const eventAttrs = eventAttributes(run, {
      actorType: 'system',
      actorId: options.issuer ?? 'credential-issuer',
      targetType: 'credential',
      targetId: options.ref,
      attributes: attrs,
    });
    const active = trace.getSpan(ctx);
    if (active?.isRecording()) {
      addRunEvent(active, RUN_EVENT_CREDENTIAL_ISSUED, eventAttrs);
      return;
    }
    const span = getTracer().startSpan(
      RUN_EVENT_CREDENTIAL_ISSUED,
      {
        kind: SpanKind.INTERNAL,
        startTime: hrNow(),
        attributes: { ...(run === undefined ? {} : runAttributes(run)), ...attrs },
      },
      ctx,
    );
    addRunEvent(span, RUN_EVENT_CREDENTIAL_ISSUED, eventAttrs);
    endSpan(span);
  } catch (err) {
    log.error('recordCredentialIssued: recording failed', err);
  }
}
