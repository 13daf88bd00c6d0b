/**
 * Every failure the store reports carries a stable UPPER_SNAKE code, so callers (the SDK's
 * fail-closed path, the CLI) can branch on it without parsing messages.
 */
export class StoreError extends Error {
  readonly code: string;
  readonly dir: string | undefined;

  constructor(code: string, message: string, options: { dir?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreError';
    this.code = code;
    this.dir = options.dir;
  }
}

/** `Configuration: X is invalid, expected … (actual: …)`, the house format for bad options. */
export function configurationError(name: string, expected: string, actual: unknown): StoreError {
  let shown: string;
  try {
    shown = typeof actual === 'string' ? JSON.stringify(actual) : String(actual);
  } catch {
    shown = typeof actual;
  }
  return new StoreError(
    'CONFIGURATION',
    `Configuration: ${name} is invalid, expected ${expected} (actual: ${shown})`,
  );
}
