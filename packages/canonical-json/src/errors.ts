/** Why a value has no canonical JSON text. */
export type CanonicalJsonErrorCode =
  | 'cycle'
  | 'too_deep'
  | 'too_large'
  | 'unsupported_type'
  | 'read_failed';

/** Thrown by the writers; `message` starts with `<code>: `. */
export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';

  constructor(
    readonly code: CanonicalJsonErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** An error's message, or a fixed text when even that throws. */
export function messageOf(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}
