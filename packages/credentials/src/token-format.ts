/*
 * The compact wire form of a run token: `aat1.<claims>.<signature>`, both parts base64url
 * (no padding); the signature is Ed25519 over the ASCII bytes `aat1.<claims>`. The claims are
 * JSON. The public reference `aat_<26 base32>` is inside the claims; the token as a whole is
 * the bearer secret and must never be logged.
 */
import { createHash, type KeyObject, randomBytes } from 'node:crypto';

/** The prefix of every token (the secret); secret scanners can key on it. */
export const TOKEN_PREFIX = 'aat1.';
/** A public reference id: `aat_` and 26 lowercase base32 characters (128 random bits). */
export const REF_PATTERN = /^aat_[a-z2-7]{26}$/;
/** A key id: `k_` and 16 lowercase base32 characters (80 bits of the public key's SHA-256). */
export const KEY_ID_PATTERN = /^k_[a-z2-7]{16}$/;
/** Longest token accepted before any parsing (claims with many scopes stay far below). */
export const MAX_TOKEN_LENGTH = 8192;

/** What a run token asserts. Times are seconds since the epoch. */
export interface RunTokenClaims {
  /** Format version, 1. */
  readonly v: 1;
  /** Public reference id, safe to log: what external logs and `agent-audit whois` use. */
  readonly ref: string;
  /** Id of the signing key ({@link keyIdOf}). */
  readonly kid: string;
  /** `workflow.run_id` the token is bound to. */
  readonly run: string;
  /** `agent.id`. */
  readonly agent: string;
  /** `trigger.principal` on whose behalf the run acts. */
  readonly principal: string;
  /** `tenant.id`, when the run has one. */
  readonly tenant?: string;
  /** What the token may be used for, e.g. `github:read`. */
  readonly scopes: readonly string[];
  /** The service (gateway, API) the token is meant for. */
  readonly aud: string;
  /** Issued at (seconds). */
  readonly iat: number;
  /** Expires at (seconds): invalid from this second on. */
  readonly exp: number;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lowercase, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** A fresh reference id (128 random bits). */
export function newRef(): string {
  return `aat_${base32(randomBytes(16))}`;
}

/** The key id of an Ed25519 public key: `k_` + base32 of the first 10 bytes of SHA-256(SPKI). */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `k_${base32(createHash('sha256').update(der).digest().subarray(0, 10))}`;
}

/** The signed part and the signature of a token, or undefined when it is not shaped like one. */
export function splitToken(
  token: string,
): { signed: string; claims: string; signature: string } | undefined {
  if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) return undefined;
  const rest = token.slice(TOKEN_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot !== rest.lastIndexOf('.')) return undefined;
  const claims = rest.slice(0, dot);
  const signature = rest.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(claims) || !/^[A-Za-z0-9_-]{86}$/.test(signature)) return undefined;
  return { signed: `${TOKEN_PREFIX}${claims}`, claims, signature };
}

const SCOPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/*-]{0,127}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,255}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** A scope name: letters, digits and `._:/*-`, at most 128 characters. */
export function isValidScope(v: unknown): v is string {
  return typeof v === 'string' && SCOPE_PATTERN.test(v);
}

/** A run id, agent id or tenant id as a token may carry it. */
export function isValidName(v: unknown): v is string {
  return typeof v === 'string' && NAME_PATTERN.test(v);
}

/** A principal: 1–256 characters, no control characters, C1 codes or bidirectional overrides. */
export function isValidPrincipal(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 && !CONTROL.test(v);
}

/**
 * The claims of a decoded payload, or a description of what is wrong with them. Every field
 * is checked, so a verified token never hands its reader a value of an unexpected shape.
 */
export function parseClaims(json: unknown): RunTokenClaims | string {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'not an object';
  const c = json as Record<string, unknown>;
  if (c.v !== 1) return 'unknown version';
  if (typeof c.ref !== 'string' || !REF_PATTERN.test(c.ref)) return 'bad ref';
  if (typeof c.kid !== 'string' || !KEY_ID_PATTERN.test(c.kid)) return 'bad kid';
  if (!isValidName(c.run)) return 'bad run';
  if (!isValidName(c.agent)) return 'bad agent';
  if (!isValidPrincipal(c.principal)) return 'bad principal';
  if (c.tenant !== undefined && !isValidName(c.tenant)) return 'bad tenant';
  if (!Array.isArray(c.scopes) || c.scopes.length > 64 || !c.scopes.every(isValidScope)) {
    return 'bad scopes';
  }
  if (!isValidName(c.aud)) return 'bad aud';
  if (!Number.isSafeInteger(c.iat) || !Number.isSafeInteger(c.exp)) return 'bad times';
  if ((c.exp as number) <= (c.iat as number)) return 'exp not after iat';
  const known = new Set(['v', 'ref', 'kid', 'run', 'agent', 'principal', 'tenant']);
  for (const k of ['scopes', 'aud', 'iat', 'exp']) known.add(k);
  for (const k of Object.keys(c)) if (!known.has(k)) return `unknown claim ${k}`;
  return Object.freeze({
    ...(c as unknown as RunTokenClaims),
    scopes: Object.freeze([...(c.scopes as string[])]),
  });
}
