/**
 * The shape every keyed reference's key has (the hash key of `input.hash` / `credential.ref`,
 * the data-subject key): an `id` named in each reference and a secret of at least 16 bytes.
 * No OpenTelemetry import: the CLI's subpaths use it.
 */
export interface SecretKey {
  id: string;
  secret: string | Uint8Array;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MIN_SECRET_BYTES = 16;

/** Why `key` is unusable as a secret key, or undefined when it is fine. */
export function secretKeyProblem(key: unknown): string | undefined {
  if (key === null || typeof key !== 'object') {
    return `expected { id, secret } (actual: ${key === null ? 'null' : typeof key})`;
  }
  const { id, secret } = key as Partial<SecretKey>;
  if (typeof id !== 'string' || !KEY_ID.test(id)) {
    return `expected id of 1-64 characters [A-Za-z0-9._-] (actual: ${JSON.stringify(id)})`;
  }
  const bytes =
    typeof secret === 'string'
      ? Buffer.byteLength(secret, 'utf8')
      : secret instanceof Uint8Array
        ? secret.byteLength
        : -1;
  if (bytes < MIN_SECRET_BYTES) {
    return `expected a secret of at least ${MIN_SECRET_BYTES} bytes (actual: ${bytes < 0 ? typeof secret : `${bytes} bytes`})`;
  }
  return undefined;
}
