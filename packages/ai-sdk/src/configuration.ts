/** `Configuration: <name> is invalid, expected <expected> (actual: <actual>)`, as everywhere. */
export function configurationError(name: string, expected: string, actual: string): Error {
  return new Error(`Configuration: ${name} is invalid, expected ${expected} (actual: ${actual})`);
}
