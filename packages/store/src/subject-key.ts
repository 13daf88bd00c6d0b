import { hash as oneShotHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors.js';
import { placeDurably } from './signing-keys.js';

/** The data-subject key's file in the trust directory. */
export const SUBJECT_KEY_FILE = 'subject-key.json';

/**
 * The key that turns data-subject identifiers into `data.subjects` references (see
 * `@agent-audit/instrumentation/subject-ref`): `{ id, secret }`, the secret 32 random bytes.
 * It lives in the trust directory beside the signing key, never in the store.
 */
export interface StoredSubjectKey {
  id: string;
  secret: Buffer;
}

function parseKey(file: string, text: string): StoredSubjectKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const p = parsed as { id?: unknown; secret?: unknown } | undefined;
  const secret = typeof p?.secret === 'string' ? Buffer.from(p.secret, 'base64') : undefined;
  if (
    typeof p?.id !== 'string' ||
    !/^[A-Za-z0-9._-]{1,64}$/.test(p.id) ||
    secret === undefined ||
    secret.length < 16
  ) {
    throw new StoreError(
      'KEY_INVALID',
      `subject key ${file} is not {"id": "<1-64 of A-Za-z0-9._->", "secret": "<base64 of ≥ 16 bytes>"}; restore it from your backup (every subject reference was made with it)`,
    );
  }
  return { id: p.id, secret };
}

/**
 * The subject key of a trust directory. Throws `SUBJECT_KEY_MISSING` naming the file and what
 * to do when there is none (the CLI: it must use the trust directory the agents use).
 */
export function readSubjectKey(trustDir: string): StoredSubjectKey {
  const file = path.join(path.resolve(trustDir), SUBJECT_KEY_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new StoreError(
        'SUBJECT_KEY_MISSING',
        `no subject key at ${file}: data.subjects are stored as keyed references (subj:…), made with the key the agents' SDK keeps in its trust directory; point AGENT_AUDIT_TRUST_DIR at that directory (or copy its ${SUBJECT_KEY_FILE}), or pass the subj:… reference itself`,
      );
    }
    throw new StoreError(
      'KEY_UNREADABLE',
      `cannot read subject key ${file} (${code ?? (error as Error).message}); give read access to it`,
      { cause: error },
    );
  }
  return parseKey(file, text);
}

/**
 * The trust directory's subject key, generated (32 random bytes, mode 0600, placed atomically
 * so two processes starting at once agree on one key) when there is none.
 */
export function loadOrCreateSubjectKey(
  trustDir: string,
): StoredSubjectKey & { generated: boolean } {
  const dir = path.resolve(trustDir);
  const file = path.join(dir, SUBJECT_KEY_FILE);
  if (fs.existsSync(file)) return { ...readSubjectKey(dir), generated: false };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  const id = `s${oneShotHash('sha256', secret, 'hex').slice(0, 8)}`;
  try {
    placeDurably(file, `${JSON.stringify({ id, secret: secret.toString('base64') })}\n`, 0o600);
  } catch (error) {
    // Another process placed its key first: use that one.
    if (error instanceof StoreError && error.code === 'KEY_EXISTS') {
      return { ...readSubjectKey(dir), generated: false };
    }
    throw error;
  }
  return { id, secret, generated: true };
}
