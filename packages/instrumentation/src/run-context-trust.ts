import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { configurationError } from './internal/configuration.js';
import { runContextKeyId } from './run-context-token.js';

/** How this process signs the run context it sends and checks the one it receives. */
export interface RunContextTrustOptions {
  /**
   * The trust domain: signed contexts name it as their audience, and only contexts signed for
   * it are verified here. Required, e.g. `acme-agents`.
   */
  audience: string;
  /** Ed25519 private key (PKCS#8 PEM or KeyObject): `injectRunContext` signs with it. */
  signingKey?: KeyObject | string;
  /**
   * Ed25519 public keys (SPKI PEM or KeyObject) of the callers trusted here. With any,
   * `extractRunContext` adopts a remote run and principal only from a valid signed context;
   * anything else is recorded as claimed (`run_context.*` attributes) and a warning.
   */
  trustedKeys?: ReadonlyArray<KeyObject | string>;
  /** Lifetime of a signed context, in seconds. The default value is 300. */
  ttlSeconds?: number;
}

export interface RunContextTrust {
  readonly audience: string;
  readonly signing?: { key: KeyObject; keyId: string };
  /** Key id → key; empty: no verification (remote runs are adopted from baggage as before). */
  readonly trusted: ReadonlyMap<string, KeyObject>;
  readonly ttlSeconds: number;
}

const TRUST_KEY = Symbol.for('@agent-audit/instrumentation.run-context-trust');
type GlobalWithTrust = typeof globalThis & { [TRUST_KEY]?: RunContextTrust };

/**
 * Configures signed run context for this process (undefined removes it). A bad option throws
 * `Configuration: …` and leaves the previous configuration in place.
 */
export function configureRunContextTrust(options: RunContextTrustOptions | undefined): void {
  const g = globalThis as GlobalWithTrust;
  if (options === undefined) {
    delete g[TRUST_KEY];
    return;
  }
  if (
    typeof options?.audience !== 'string' ||
    !/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/.test(options.audience)
  ) {
    throw configurationError(
      'audience',
      'a trust-domain name such as acme-agents',
      typeof options?.audience,
    );
  }
  let signing: RunContextTrust['signing'];
  if (options.signingKey !== undefined) {
    let key: KeyObject;
    try {
      key =
        typeof options.signingKey === 'string'
          ? createPrivateKey(options.signingKey)
          : options.signingKey;
    } catch {
      throw configurationError(
        'signingKey',
        'an Ed25519 private key (PKCS#8 PEM or KeyObject)',
        'unreadable key',
      );
    }
    if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
      throw configurationError(
        'signingKey',
        'an Ed25519 private key',
        `${key.type} ${key.asymmetricKeyType} key`,
      );
    }
    signing = { key, keyId: runContextKeyId(createPublicKey(key)) };
  }
  const trusted = new Map<string, KeyObject>();
  for (const [i, k] of (options.trustedKeys ?? []).entries()) {
    let key: KeyObject;
    try {
      key =
        typeof k === 'string' ? createPublicKey(k) : k.type === 'private' ? createPublicKey(k) : k;
    } catch {
      throw configurationError(
        `trustedKeys[${i}]`,
        'an Ed25519 public key (SPKI PEM or KeyObject)',
        'unreadable key',
      );
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw configurationError(
        `trustedKeys[${i}]`,
        'an Ed25519 public key',
        `${key.asymmetricKeyType} key`,
      );
    }
    trusted.set(runContextKeyId(key), key);
  }
  const ttl = options.ttlSeconds ?? 300;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 86_400) {
    throw configurationError('ttlSeconds', 'an integer from 1 to 86400', String(ttl));
  }
  g[TRUST_KEY] = Object.freeze({ audience: options.audience, signing, trusted, ttlSeconds: ttl });
}

export function getRunContextTrust(): RunContextTrust | undefined {
  return (globalThis as GlobalWithTrust)[TRUST_KEY];
}
