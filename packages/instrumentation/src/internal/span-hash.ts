import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_APPROVAL_INPUT_HASH,
  ATTR_APPROVAL_INPUT_HASH_ERROR,
  ATTR_APPROVAL_SHOWN_HASH,
  ATTR_APPROVAL_SHOWN_HASH_ERROR,
  ATTR_INPUT_HASH,
  ATTR_INPUT_HASH_ERROR,
  ATTR_INPUT_SIZE,
  ATTR_OUTPUT_HASH,
  ATTR_OUTPUT_HASH_ERROR,
  ATTR_OUTPUT_SIZE,
  ATTR_PROMPT_HASH,
  ATTR_PROMPT_HASH_ERROR,
  ATTR_SIDE_EFFECT_RESULT_HASH,
  ATTR_SIDE_EFFECT_RESULT_HASH_ERROR,
  ATTR_SYSTEM_PROMPT_HASH,
  ATTR_SYSTEM_PROMPT_HASH_ERROR,
} from '../attributes.js';
import { canonicalJson, type HashKey, hashCanonicalJson, hashPlainValue } from '../hash-value.js';
import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
} from '../semconv.js';

/** Where one hashed value goes on a span. */
export interface HashAttributes {
  /** The hash, e.g. `input.hash`. */
  readonly hash: string;
  /** Why the hash is absent, `<code>: <message>`, e.g. `input.hash_error`. */
  readonly error: string;
  /** The canonical JSON itself, recorded only with content capture. */
  readonly content?: string;
  /** The UTF-8 byte length of the hashed canonical JSON (int), e.g. `input.size`. */
  readonly size?: string;
}

export const TOOL_INPUT: HashAttributes = Object.freeze({
  hash: ATTR_INPUT_HASH,
  error: ATTR_INPUT_HASH_ERROR,
  content: ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  size: ATTR_INPUT_SIZE,
});
export const TOOL_OUTPUT: HashAttributes = Object.freeze({
  hash: ATTR_OUTPUT_HASH,
  error: ATTR_OUTPUT_HASH_ERROR,
  content: ATTR_GEN_AI_TOOL_CALL_RESULT,
  size: ATTR_OUTPUT_SIZE,
});
export const RUN_INPUT: HashAttributes = Object.freeze({
  hash: ATTR_INPUT_HASH,
  error: ATTR_INPUT_HASH_ERROR,
});
export const RUN_OUTPUT: HashAttributes = Object.freeze({
  hash: ATTR_OUTPUT_HASH,
  error: ATTR_OUTPUT_HASH_ERROR,
});
export const LLM_PROMPT: HashAttributes = Object.freeze({
  hash: ATTR_PROMPT_HASH,
  error: ATTR_PROMPT_HASH_ERROR,
  content: ATTR_GEN_AI_INPUT_MESSAGES,
});
export const LLM_SYSTEM_PROMPT: HashAttributes = Object.freeze({
  hash: ATTR_SYSTEM_PROMPT_HASH,
  error: ATTR_SYSTEM_PROMPT_HASH_ERROR,
  content: ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
});
export const LLM_OUTPUT: HashAttributes = Object.freeze({
  hash: ATTR_OUTPUT_HASH,
  error: ATTR_OUTPUT_HASH_ERROR,
  content: ATTR_GEN_AI_OUTPUT_MESSAGES,
});
export const APPROVED_INPUT: HashAttributes = Object.freeze({
  hash: ATTR_APPROVAL_INPUT_HASH,
  error: ATTR_APPROVAL_INPUT_HASH_ERROR,
});
export const APPROVAL_SHOWN: HashAttributes = Object.freeze({
  hash: ATTR_APPROVAL_SHOWN_HASH,
  error: ATTR_APPROVAL_SHOWN_HASH_ERROR,
});
export const SIDE_EFFECT_RESULT: HashAttributes = Object.freeze({
  hash: ATTR_SIDE_EFFECT_RESULT_HASH,
  error: ATTR_SIDE_EFFECT_RESULT_HASH_ERROR,
});

/**
 * Hashes `value` onto a span (or onto attributes a span starts with): sets `names.hash`, or
 * `names.error` (`<code>: <message>`) when the value cannot be hashed, with `capture` the
 * canonical JSON under `names.content`, and with the hash the byte length of the hashed text
 * under `names.size` (when the names have one: tool input and output). Returns the hash, or undefined when there is none.
 * Never throws for any value (the hashing functions never do).
 *
 * Without capture only the hash is needed: plain data is hashed without building the canonical
 * text (see hashPlainValue); anything else, and every failure, takes the canonical-text path.
 * `undefinedError`, when given, is what an `undefined` value records instead of the generic
 * "a top-level undefined has no JSON form".
 */
export function recordHash(
  out: Attributes | Span,
  value: unknown,
  names: HashAttributes,
  key: HashKey | undefined,
  capture = false,
  undefinedError?: string,
): string | undefined {
  if (!capture && value !== null && typeof value === 'object') {
    const size = names.size === undefined ? undefined : { bytes: -1 };
    const fast = hashPlainValue(value, key, undefined, size);
    if (fast?.ok) {
      set(out, names.hash, fast.hash);
      if (size !== undefined && size.bytes >= 0) set(out, names.size!, size.bytes);
      return fast.hash;
    }
  }
  const canonical = canonicalJson(value);
  if (!canonical.ok) {
    set(
      out,
      names.error,
      value === undefined && undefinedError !== undefined ? undefinedError : canonical.error,
    );
    return undefined;
  }
  if (capture && names.content !== undefined) set(out, names.content, canonical.json);
  const h = hashCanonicalJson(canonical.json, key);
  if (h.ok) {
    set(out, names.hash, h.hash);
    // A count over the text already built, not a second serialization.
    if (names.size !== undefined) set(out, names.size, Buffer.byteLength(canonical.json, 'utf8'));
    return h.hash;
  }
  set(out, names.error, h.error);
  return undefined;
}

function set(out: Attributes | Span, name: string, value: string | number): void {
  if (typeof (out as Span).setAttribute === 'function') (out as Span).setAttribute(name, value);
  else (out as Attributes)[name] = value;
}
