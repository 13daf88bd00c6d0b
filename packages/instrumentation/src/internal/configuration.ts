/*
 * Option validation: every bad option a caller passes in code throws one shape of error,
 * `Configuration: <name> is invalid, expected <what> (actual: <what it was>)`, synchronously,
 * before anything runs. The checks below are the only places that write that message.
 */

/** `Configuration: <name> is invalid, <problem>`; `problem` reads `expected … (actual: …)`. */
export function invalidOption(name: string, problem: string): Error {
  return new Error(`Configuration: ${name} is invalid, ${problem}`);
}

/** `Configuration: <name> is invalid, expected <expected> (actual: <actual>)`. */
export function configurationError(name: string, expected: string, actual: string): Error {
  return invalidOption(name, `expected ${expected} (actual: ${actual})`);
}

/** A non-empty string; `undefined` passes when not `required`. */
export function checkString(name: string, v: unknown, required: boolean): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'string' || v === '') {
    throw configurationError(name, 'a non-empty string', v === '' ? 'empty string' : typeof v);
  }
}

/** A non-null object (required). */
export function checkObject(name: string, v: unknown): void {
  if (v === null || typeof v !== 'object') throw configurationError(name, 'an object', typeof v);
}

/** A function; `undefined` passes when not `required`. */
export function checkFunction(name: string, v: unknown, required: boolean): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'function') throw configurationError(name, 'a function', typeof v);
}

/** A boolean or undefined. */
export function checkBoolean(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean')
    throw configurationError(name, 'a boolean', typeof v);
}

/** A string or undefined (empty allowed). */
export function checkOptionalString(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'string')
    throw configurationError(name, 'a string', typeof v);
}

/** A finite number or undefined. */
export function checkFiniteNumber(name: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
    throw configurationError(name, 'a finite number', typeof v);
  }
}

/** One of `allowed` (shown as `a|b|c`), or undefined. */
export function checkOneOf(name: string, v: unknown, allowed: readonly string[]): void {
  if (v !== undefined && !allowed.includes(v as string)) {
    throw configurationError(name, allowed.join('|'), JSON.stringify(v));
  }
}

/** An array of strings, or undefined. */
export function checkStringArray(name: string, v: unknown): void {
  if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
    throw configurationError(name, 'an array of strings', 'other');
  }
}

/** A Date holding a valid time, or undefined. */
export function checkDate(name: string, v: unknown): void {
  if (v !== undefined && !(v instanceof Date && Number.isFinite(v.getTime()))) {
    throw configurationError(name, 'a valid Date', 'other');
  }
}
