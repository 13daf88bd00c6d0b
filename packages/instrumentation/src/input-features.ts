/*
 * What detection may know about a tool call's arguments without their content: the shape of
 * the input (its key paths and value types, hashed) and the classes of hostile content found
 * in it (`input.signals`). One walk over the value, bounded in nodes, depth and string
 * characters, so a huge or hostile input costs a bounded amount of work; never throws.
 */
import { hash as oneShotHash } from 'node:crypto';
import {
  INPUT_SIGNAL_BASE64_BLOB,
  INPUT_SIGNAL_BINARY_BLOB,
  INPUT_SIGNAL_PATH_TRAVERSAL,
  INPUT_SIGNAL_PROMPT_INJECTION,
  INPUT_SIGNAL_SHELL_METACHARACTERS,
  INPUT_SIGNAL_SQL_INJECTION,
} from './attributes.js';

/** A class of content that `input.signals` reports: a name and the pattern that finds it. */
export interface InputSignalRule {
  /** Recorded in `input.signals`: 1–64 of `a-z 0-9 _`. */
  readonly name: string;
  /**
   * Tested against each string value of the input (at most the first 64 Ki characters of
   * one string). Keep it linear: no nested quantifiers. A global or sticky flag is ignored.
   */
  readonly pattern: RegExp;
}

/** The features of one input. */
export interface InputFeatures {
  /** `shape:<sha256 hex>` of the sorted, de-duplicated `<path>\t<type>` lines. */
  readonly shape: string;
  /** Signal class names found, sorted; empty when none. */
  readonly signals: readonly string[];
  /** True when the walk stopped at its budget: the features cover the first part only. */
  readonly truncated: boolean;
}

/** Most nodes (values) visited in one input. */
export const FEATURES_MAX_NODES = 10_000;
/** Deepest nesting walked; deeper values are recorded as one `truncated` line. */
export const FEATURES_MAX_DEPTH = 64;
/** Most string characters scanned for signals, over the whole input. */
export const FEATURES_MAX_SCAN_CHARS = 256 * 1024;
/** Most characters scanned in one string. */
const MAX_STRING_CHARS = 64 * 1024;

/*
 * The built-in rules. Each is one regular expression without nested quantifiers (V8 runs these
 * in time linear in the string for practical purposes), case-insensitive, and chosen so that
 * ordinary prose, ids, URLs and JSON do not match (see the false-positive corpus in the tests).
 */
const SQL_INJECTION =
  /\bunion\s{1,16}(?:all\s{1,16})?select\b|['"]\s{0,16}(?:or|and)\s{1,16}['"]?[\w-]{1,64}['"]?\s{0,16}(?:=|like)\s{0,16}['"]?[\w-]|\bor\s{1,16}1\s{0,16}=\s{0,16}1\b|;\s{0,16}(?:drop\s{1,16}(?:table|database|schema)|truncate\s{1,16}table|alter\s{1,16}table|delete\s{1,16}from|insert\s{1,16}into|update\s{1,16}\w+\s{1,16}set|exec(?:ute)?\s{1,16}\w|shutdown\b)|'\s{0,16}(?:--|#|\/\*)|\b(?:pg_sleep|sleep|benchmark)\s{0,16}\(\s{0,16}\d|\bwaitfor\s{1,16}delay\b|\bxp_cmdshell\b|\binformation_schema\b/i;
const PATH_TRAVERSAL =
  /(?:^|[\\/=])\.\.(?:[\\/]|$)|(?:%2e|\.){2}(?:%2f|%5c)|%2e%2e[\\/]|%252e|%c0%ae|\/etc\/(?:passwd|shadow|sudoers)\b|%00/i;
const SHELL_METACHARACTERS =
  /\$\([^)]{0,64}\)|\$\{IFS\}|`\s{0,16}(?:rm|curl|wget|nc|ncat|bash|sh|zsh|chmod|chown|sudo|python3?|perl|ruby|php|whoami|id|uname)\b[^`]{0,64}`|(?:;|&&|\|\|?|\n)[ \t]{0,16}(?:rm\s{1,16}-|curl\s|wget\s|nc\s|ncat\s|netcat\s|bash\b|sh\s{1,16}-|zsh\b|chmod\s|chown\s|sudo\s|python3?\s{1,16}-c|perl\s{1,16}-e|ruby\s{1,16}-e|php\s{1,16}-r|mkfifo\s|base64\s{1,16}-d|cat\s{1,16}[~/]|whoami\b|uname\s{1,16}-a|powershell\b|cmd(?:\.exe)?\s{1,16}\/c)|>&?\s{0,16}\/dev\/(?:tcp|udp)\//i;
const PROMPT_INJECTION =
  /\b(?:ignore|disregard|forget|override)\s{1,16}(?:all\s{1,16}|any\s{1,16}|the\s{1,16}|your\s{1,16}){0,3}(?:previous|prior|above|earlier|preceding|system)\s{1,16}(?:instructions|prompts?|messages|rules|directions)\b|\byou\s{1,16}are\s{1,16}now\s{1,16}(?:in\s{1,16})?(?:dan\b|developer\s{1,16}mode|jailbroken|unrestricted)|<\|(?:im_start|im_end|system|endoftext)\|>|\[\/?INST\]|<<\/?SYS>>|\b(?:reveal|print|show|repeat)\s{1,16}(?:me\s{1,16})?(?:your|the)\s{1,16}(?:system\s{1,16}prompt|hidden\s{1,16}instructions|initial\s{1,16}instructions)\b|\bnew\s{1,16}instructions\s{0,16}:|\bbegin\s{1,16}system\s{1,16}prompt\b/i;
const DATA_URI = /\bdata:[\w.+-]{1,64}\/[\w.+-]{1,64};base64,/i;
/** Shortest run of base64 (or base64url) characters reported as `base64_blob`. */
const BASE64_MIN_RUN = 256;
// NUL anywhere, or many other C0 controls (TAB, LF, CR excluded), is binary content in a string.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the class of C0 controls is the point
const C0_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;
const BINARY_MIN_CONTROLS = 8;

/**
 * The built-in pattern rules, in the order they are tested. Two more classes are found by
 * code, not a pattern: `binary_blob` (binary values; NUL or 8+ other C0 controls in a string)
 * and `base64_blob` (a run of 256+ base64 characters, or a `data:…;base64,` URI).
 */
export const BUILT_IN_INPUT_SIGNALS: readonly InputSignalRule[] = Object.freeze([
  Object.freeze({ name: INPUT_SIGNAL_SQL_INJECTION, pattern: SQL_INJECTION }),
  Object.freeze({ name: INPUT_SIGNAL_PATH_TRAVERSAL, pattern: PATH_TRAVERSAL }),
  Object.freeze({ name: INPUT_SIGNAL_SHELL_METACHARACTERS, pattern: SHELL_METACHARACTERS }),
  Object.freeze({ name: INPUT_SIGNAL_PROMPT_INJECTION, pattern: PROMPT_INJECTION }),
]);

/**
 * Strings that no built-in rule can match: one token of letters, digits and `_ . @ : + -`
 * (ids, emails, versions, numbers), not starting with `.`, shorter than a base64 blob. Most
 * tool arguments are such tokens; they skip the rule regexes.
 */
// (isPlainToken below: /^[A-Za-z0-9_@:+-][A-Za-z0-9_.@:+-]{0,200}$/ as a character loop.)

const SIGNAL_NAME = /^[a-z0-9_]{1,64}$/;

/** Why `rules` cannot be used as extra signal rules, or undefined when they can. */
export function inputSignalRulesProblem(rules: unknown): string | undefined {
  if (!Array.isArray(rules))
    return `expected an array of { name, pattern } (actual: ${typeof rules})`;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i] as Partial<InputSignalRule> | null;
    if (r === null || typeof r !== 'object') return `expected [${i}] to be { name, pattern }`;
    if (typeof r.name !== 'string' || !SIGNAL_NAME.test(r.name)) {
      return `expected [${i}].name of 1-64 characters [a-z0-9_] (actual: ${JSON.stringify(r.name)})`;
    }
    if (!(r.pattern instanceof RegExp)) {
      return `expected [${i}].pattern to be a RegExp (actual: ${typeof r.pattern})`;
    }
  }
  return undefined;
}

/**
 * Extra rules as used by the scan: a global or sticky flag would make `test` stateful, so such
 * a pattern is copied without it.
 */
export function normalizeSignalRules(rules: readonly InputSignalRule[]): InputSignalRule[] {
  return rules.map((r) =>
    Object.freeze({
      name: r.name,
      pattern:
        r.pattern.global || r.pattern.sticky
          ? new RegExp(r.pattern.source, r.pattern.flags.replace(/[gy]/g, ''))
          : r.pattern,
    }),
  );
}

const NO_SIGNALS: readonly string[] = Object.freeze([]);

/**
 * The shape and signals of `value`. Never throws: a getter or proxy that throws is recorded as
 * type `other` at its path. `extra` rules run after the built-in ones.
 */
export function inputFeatures(
  value: unknown,
  extra: readonly InputSignalRule[] = NO_RULES,
): InputFeatures {
  const walk = new FeatureWalk(extra);
  walk.run(value);
  let shape: string;
  try {
    shape = walk.shape(value);
  } catch {
    shape = 'shape:unavailable';
  }
  return { shape, signals: walk.signals(), truncated: walk.truncated };
}

const NO_RULES: readonly InputSignalRule[] = Object.freeze([]);

/*
 * Most calls of a tool send the same structure in the same key order. The walk mixes what it
 * sees (type codes and key hashes, in order) into a 64-bit fingerprint without building any
 * string; the shape of a fingerprint seen before is remembered, so the path lines, the sort and
 * the SHA-256 are built only for a new fingerprint (a second walk). The memo is bounded and
 * cleared when full. Two different walk sequences share a fingerprint with a probability of
 * about 2^-64 per pair; the memo also compares the node count.
 */
const SHAPE_MEMO_MAX = 512;
/** Keyed by the fingerprint's first half; the entry holds the rest of the key. */
const shapeMemo = new Map<number, { h2: number; nodes: number; shape: string }>();
const KEY_HASH_MAX = 4096;
const keyHashes = new Map<string, number>();

// Type codes mixed into the fingerprint.
const T_NULL = 1;
const T_BOOLEAN = 2;
const T_NUMBER = 3;
const T_BIGINT = 4;
const T_STRING = 5;
const T_ARRAY = 6;
const T_OBJECT = 7;
const T_BINARY = 8;
const T_DATE = 9;
const T_MAP = 10;
const T_SET = 11;
const T_OTHER = 12;
const T_CYCLE = 13;
const T_END = 14;
// Salt of a key's hash in the fingerprint (keeps a key apart from a type code).
const T_KEY = 0x5f3759df;
const TYPE_NAMES = [
  '',
  'null',
  'boolean',
  'number',
  'bigint',
  'string',
  'array',
  'object',
  'binary',
  'date',
  'map',
  'set',
  'other',
  'cycle',
];

class FeatureWalk {
  truncated = false;
  private h1 = 0x811c9dc5;
  private h2 = 0x9747b28c;
  /** Set on the second walk only: the `<path>\t<type>` lines of a new fingerprint. */
  private lines: Set<string> | undefined;
  private found: Set<string> | undefined;
  private nodes = 0;
  private scanBudget = FEATURES_MAX_SCAN_CHARS;
  private readonly ancestors: object[] = [];

  constructor(
    private readonly extra: readonly InputSignalRule[],
    private readonly scanning = true,
  ) {}

  /** The shape of the walked value (`value` walks again, building lines, on a memo miss). */
  shape(value: unknown): string {
    const key = this.h1 | 0;
    const hit = shapeMemo.get(key);
    if (hit !== undefined && hit.h2 === (this.h2 | 0) && hit.nodes === this.nodes) return hit.shape;
    const lines = new FeatureWalk(NO_RULES, false);
    lines.lines = new Set();
    lines.run(value);
    if (lines.truncated) lines.lines.add('…\ttruncated');
    const shape = `shape:${oneShotHash('sha256', [...lines.lines].sort().join('\n'), 'hex')}`;
    if (shapeMemo.size >= SHAPE_MEMO_MAX) shapeMemo.clear();
    shapeMemo.set(key, { h2: this.h2 | 0, nodes: this.nodes, shape });
    return shape;
  }

  signals(): readonly string[] {
    return this.found === undefined ? NO_SIGNALS : [...this.found].sort();
  }

  run(value: unknown): void {
    try {
      this.visit(value, '$', 0);
    } catch {
      // Only an engine limit can get here (every read is guarded); what was seen still counts.
      this.truncated = true;
    }
    if (this.truncated) this.mix(T_END + 100);
  }

  private mix(x: number): void {
    this.h1 = Math.imul(this.h1 ^ x, 0x01000193);
    this.h2 = Math.imul(this.h2 ^ x, 0x5bd1e995);
    this.h2 ^= this.h2 >>> 15;
  }

  private node(path: string, type: number): void {
    this.mix(type);
    if (this.lines !== undefined) this.lines.add(`${path}\t${TYPE_NAMES[type]}`);
  }

  private visit(value: unknown, path: string, depth: number): void {
    if (++this.nodes > FEATURES_MAX_NODES || depth > FEATURES_MAX_DEPTH) {
      this.truncated = true;
      return;
    }
    const type = typeof value;
    if (type === 'string') {
      this.node(path, T_STRING);
      if (this.scanning) this.scan(value as string);
      return;
    }
    if (value === null || type !== 'object') {
      this.node(path, value === null ? T_NULL : scalarType(type));
      return;
    }
    const obj = value as object;
    const array = isArray(obj);
    if (array === undefined) {
      this.node(path, T_OTHER);
      return;
    }
    if (array) {
      if (this.ancestors.includes(obj)) {
        this.node(path, T_CYCLE);
        return;
      }
      this.node(path, T_ARRAY);
      const child = this.lines === undefined ? '' : `${path}[]`;
      const n = (obj as unknown[]).length;
      this.ancestors.push(obj);
      try {
        for (let i = 0; i < n; i++) {
          if (this.nodes >= FEATURES_MAX_NODES) {
            this.truncated = true;
            break;
          }
          this.visit(read(obj, i), child, depth + 1);
        }
      } finally {
        this.ancestors.pop();
      }
      this.mix(T_END);
      return;
    }
    // Plain objects (almost every argument object) skip the class checks below.
    if (!isPlainObject(obj)) {
      const special = specialType(obj);
      if (special !== 0) {
        this.node(path, special);
        if (special === T_BINARY && this.scanning) this.signal(INPUT_SIGNAL_BINARY_BLOB);
        return;
      }
    }
    if (this.ancestors.includes(obj)) {
      this.node(path, T_CYCLE);
      return;
    }
    let keys: string[];
    try {
      keys = Object.keys(obj);
    } catch {
      this.node(path, T_OTHER);
      return;
    }
    this.node(path, T_OBJECT);
    this.ancestors.push(obj);
    try {
      for (let i = 0; i < keys.length; i++) {
        if (this.nodes >= FEATURES_MAX_NODES) {
          this.truncated = true;
          break;
        }
        const key = keys[i]!;
        this.mix(keyHash(key) ^ T_KEY);
        const child = read(obj, key);
        // The common leaves inline on the fast walk (no call per leaf); the same node count
        // and fingerprint as visit() would give them.
        if (this.lines === undefined && depth < FEATURES_MAX_DEPTH) {
          const t = typeof child;
          if (t === 'string') {
            this.nodes++;
            this.mix(T_STRING);
            if (this.scanning) this.scan(child as string);
            continue;
          }
          if (t === 'number' || t === 'boolean') {
            this.nodes++;
            this.mix(t === 'number' ? T_NUMBER : T_BOOLEAN);
            continue;
          }
        }
        this.visit(child, this.lines === undefined ? '' : `${path}${keyPath(key)}`, depth + 1);
      }
    } finally {
      this.ancestors.pop();
    }
    this.mix(T_END);
  }

  private signal(name: string): void {
    if (this.found === undefined) this.found = new Set();
    this.found.add(name);
  }

  private has(name: string): boolean {
    return this.found?.has(name) === true;
  }

  /** Tests the rules not yet found against the (bounded) string. */
  private scan(s: string): void {
    if (s.length < 4) return;
    if (this.scanBudget <= 0) {
      this.truncated = true;
      return;
    }
    let text = s;
    const limit = Math.min(MAX_STRING_CHARS, this.scanBudget);
    if (text.length > limit) {
      text = text.slice(0, limit);
      this.truncated = true;
    }
    this.scanBudget -= text.length;
    if (!isPlainToken(text)) {
      for (let i = 0; i < BUILT_IN_INPUT_SIGNALS.length; i++) {
        const rule = BUILT_IN_INPUT_SIGNALS[i]!;
        if (!this.has(rule.name) && rule.pattern.test(text)) this.signal(rule.name);
      }
      if (!this.has(INPUT_SIGNAL_BINARY_BLOB) && isBinaryText(text)) {
        this.signal(INPUT_SIGNAL_BINARY_BLOB);
      }
      if (!this.has(INPUT_SIGNAL_BASE64_BLOB) && isBase64Blob(text)) {
        this.signal(INPUT_SIGNAL_BASE64_BLOB);
      }
    }
    for (let i = 0; i < this.extra.length; i++) {
      const rule = this.extra[i]!;
      try {
        if (!this.has(rule.name) && rule.pattern.test(text)) this.signal(rule.name);
      } catch {
        // A user pattern that throws (stack overflow on a pathological string) finds nothing.
      }
    }
  }
}

/** Array.isArray, or undefined for a revoked proxy (on which it throws). */
function isArray(obj: object): boolean | undefined {
  try {
    return Array.isArray(obj);
  } catch {
    return undefined;
  }
}

function isPlainObject(obj: object): boolean {
  try {
    const proto = Object.getPrototypeOf(obj);
    return proto === Object.prototype || proto === null;
  } catch {
    return false;
  }
}

/** The type code of a value that is not walked as an object, or 0 to walk it. */
function specialType(obj: object): number {
  try {
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || isSharedArrayBuffer(obj)) {
      return T_BINARY;
    }
    if (obj instanceof Date) return T_DATE;
    if (obj instanceof Map) return T_MAP;
    if (obj instanceof Set) return T_SET;
    return 0;
  } catch {
    // A proxy whose prototype trap throws.
    return T_OTHER;
  }
}

/** A 32-bit hash of a key (FNV-1a over UTF-16 units), cached: keys repeat call after call. */
function keyHash(key: string): number {
  let h = keyHashes.get(key);
  if (h !== undefined) return h;
  h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= key.length;
  if (keyHashes.size >= KEY_HASH_MAX) keyHashes.clear();
  keyHashes.set(key, h);
  return h;
}

// Characters of a plain token (see the note above BUILT_IN_INPUT_SIGNALS): letters, digits, `_ . @ : + -`.
const TOKEN_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@:+-') {
  TOKEN_CHAR[c.charCodeAt(0)] = 1;
}

/** Whether no built-in rule can match `s` (see the note above BUILT_IN_INPUT_SIGNALS); a loop, not a regex, per string. */
function isPlainToken(s: string): boolean {
  const n = s.length;
  if (n > 201 || s.charCodeAt(0) === 46) return false; // longer than the token limit, or `.`
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHAR[c] === 0) return false;
  }
  return true;
}

/** A run of {@link BASE64_MIN_RUN} base64/base64url characters (one linear pass), or a data URI. */
function isBase64Blob(s: string): boolean {
  if (s.length >= BASE64_MIN_RUN) {
    let run = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const b64 =
        (c >= 65 && c <= 90) || // A-Z
        (c >= 97 && c <= 122) || // a-z
        (c >= 48 && c <= 57) || // 0-9
        c === 43 || // +
        c === 47 || // /
        c === 45 || // -
        c === 95; // _
      if (!b64) run = 0;
      else if (++run >= BASE64_MIN_RUN) return true;
    }
  }
  return s.indexOf('base64,') > 0 && DATA_URI.test(s);
}

function isBinaryText(s: string): boolean {
  if (s.indexOf('\u0000') >= 0) return true;
  C0_CONTROL.lastIndex = 0;
  let count = 0;
  while (C0_CONTROL.exec(s) !== null) {
    if (++count >= BINARY_MIN_CONTROLS) return true;
  }
  return false;
}

function scalarType(type: string): number {
  switch (type) {
    case 'number':
      return T_NUMBER;
    case 'boolean':
      return T_BOOLEAN;
    case 'bigint':
      return T_BIGINT;
    default:
      // undefined, function, symbol: no JSON form, but part of the structure the caller sent.
      return T_OTHER;
  }
}

const PLAIN_KEY = /^[A-Za-z0-9_]+$/;

function keyPath(key: string): string {
  return PLAIN_KEY.test(key) ? `.${key}` : `.${JSON.stringify(key)}`;
}

function read(obj: object, key: string | number): unknown {
  try {
    return (obj as Record<string | number, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

const UNREADABLE = Symbol('unreadable');

function isSharedArrayBuffer(obj: object): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && obj instanceof SharedArrayBuffer;
}
