export type { CanonicalFragment } from './canonical-fragment.js';
export type { CanonicalJsonErrorCode } from './errors.js';
export { CanonicalJsonError, messageOf } from './errors.js';
export {
  hasEscapedLoneSurrogate,
  isVerbatimAscii,
  numberForm,
  quoteString,
} from './json-text.js';
export type { SortedKeys } from './key-order.js';
export { KeyOrder, sortKeys } from './key-order.js';
export type { CanonicalLimits } from './lenient-writer.js';
export { LenientJsonWriter } from './lenient-writer.js';
export { PlainUtf8Writer } from './plain-utf8-writer.js';
export { StrictJsonWriter } from './strict-writer.js';
