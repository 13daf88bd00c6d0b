import { type CanonicalFragment, StrictJsonWriter } from '@agent-audit/canonical-json';

/**
 * RFC 8785 (JCS) canonical JSON of a record, through the strict writer of
 * `@agent-audit/canonical-json`: it throws on values without a canonical form (non-finite
 * numbers, BigInt, lone surrogates, cycles, a top-level undefined); like `JSON.stringify`,
 * `undefined`, functions and symbols are dropped from objects and become `null` in arrays, and
 * `toJSON()` is honoured. Sorted subtrees go to the native `JSON.stringify` (see the writer),
 * which is why the store builds its records with sorted keys.
 *
 * The writer (and its key-order cache) belongs to this module: one per store package copy.
 */
const writer = new StrictJsonWriter();

export function canonicalJson(value: unknown): string {
  return writer.stringify(value);
}

/**
 * A part of a record payload serialized now, once: wherever it appears in a payload appended
 * later, its canonical text is written as it is (see `CanonicalFragment` in
 * `@agent-audit/canonical-json`). Made by the same writer that encodes the records, so the text
 * is the record's canonical bytes whoever builds the payload. Throws as `canonicalJson`.
 */
export function canonicalFragment(value: unknown): CanonicalFragment {
  return writer.fragment(value);
}
