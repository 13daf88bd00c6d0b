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
  /\bunion\s+(?:all\s+)?select\b|['"]\s*(?:or|and)\s+['"]?[\w-]+['"]?\s*(?:=|like)\s*['"]?[\w-]+|\bor\s+1\s*=\s*1\b|;\s*(?:drop\s+(?:table|database|schema)|truncate\s+table|alter\s+table|delete\s+from|insert\s+into|update\s+\w+\s+set|exec(?:ute)?\s+\w|shutdown\b)|'\s*(?:--|#|\/\*)|\b(?:pg_sleep|sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\b|\bxp_cmdshell\b|\binformation_schema\b/i;
const PATH_TRAVERSAL =
  /(?:^|[\\/=])\.\.(?:[\\/]|$)|(?:%2e|\.){2}(?:%2f|%5c)|%2e%2e[\\/]|%252e|%c0%ae|\/etc\/(?:passwd|shadow|sudoers)\b|%00/i;
const SHELL_METACHARACTERS =
  /\$\([^)]*\)|\$\{IFS\}|`\s*(?:rm|curl|wget|nc|ncat|bash|sh|zsh|chmod|chown|sudo|python3?|perl|ruby|php|whoami|id|uname)\b[^`]*`|(?:;|&&|\|\|?|\n)\s*(?:rm\s+-|curl\s|wget\s|nc\s|ncat\s|netcat\s|bash\b|sh\s+-|zsh\b|chmod\s|chown\s|sudo\s|python3?\s+-c|perl\s+-e|ruby\s+-e|php\s+-r|mkfifo\s|base64\s+-d|cat\s+[~/]|whoami\b|uname\s+-a|powershell\b|cmd(?:\.exe)?\s+\/c)|>\s*\/dev\/(?:tcp|udp)\//i;
const PROMPT_INJECTION =
  /\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|messages|rules|directions)\b|\byou\s+are\s+now\s+(?:in\s+)?(?:dan\b|developer\s+mode|jailbroken|unrestricted)|<\|(?:im_start|im_end|system|endoftext)\|>|\[\/?INST\]|<<\/?SYS>>|\b(?:reveal|print|show|repeat)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions|initial\s+instructions)\b|\bnew\s+instructions\s*:|\bbegin\s+system\s+prompt\b/i;
const BASE64_RUN = /[A-Za-z0-9+/_-]{256,}={0,2}|\bdata:[\w.+-]+\/[\w.+-]+;base64,/;
// NUL anywhere, or many other C0 controls (TAB, LF, CR excluded), is binary content in a string.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the class of C0 controls is the point
const C0_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;
const BINARY_MIN_CONTROLS = 8;

/** The built-in signal rules, in the order they are tested. */
export const BUILT_IN_INPUT_SIGNALS: readonly InputSignalRule[] = Object.freeze([
  Object.freeze({ name: INPUT_SIGNAL_SQL_INJECTION, pattern: SQL_INJECTION }),
  Object.freeze({ name: INPUT_SIGNAL_PATH_TRAVERSAL, pattern: PATH_TRAVERSAL }),
  Object.freeze({ name: INPUT_SIGNAL_SHELL_METACHARACTERS, pattern: SHELL_METACHARACTERS }),
  Object.freeze({ name: INPUT_SIGNAL_PROMPT_INJECTION, pattern: PROMPT_INJECTION }),
  Object.freeze({ name: INPUT_SIGNAL_BASE64_BLOB, pattern: BASE64_RUN }),
]);

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
  try {
    walk.visit(value, '$', 0);
  } catch {
    // Only an engine limit can get here (every read is guarded); the lines so far still count.
    walk.truncated = true;
  }
  return walk.result();
}

const NO_RULES: readonly InputSignalRule[] = Object.freeze([]);

class FeatureWalk {
  truncated = false;
  private readonly lines = new Set<string>();
  private found: Set<string> | undefined;
  private nodes = 0;
  private scanBudget = FEATURES_MAX_SCAN_CHARS;
  private readonly ancestors: object[] = [];

  constructor(private readonly extra: readonly InputSignalRule[]) {}

  result(): InputFeatures {
    if (this.truncated) this.lines.add('…\ttruncated');
    const sorted = [...this.lines].sort();
    const shape = `shape:${oneShotHash('sha256', sorted.join('\n'), 'hex')}`;
    const signals = this.found === undefined ? NO_SIGNALS : [...this.found].sort();
    return { shape, signals, truncated: this.truncated };
  }

  visit(value: unknown, path: string, depth: number): void {
    if (++this.nodes > FEATURES_MAX_NODES || depth > FEATURES_MAX_DEPTH) {
      this.truncated = true;
      return;
    }
    const type = typeof value;
    if (type === 'string') {
      this.lines.add(`${path}\tstring`);
      this.scan(value as string);
      return;
    }
    if (value === null || type !== 'object') {
      this.lines.add(`${path}\t${value === null ? 'null' : scalarType(type)}`);
      return;
    }
    const obj = value as object;
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || isSharedArrayBuffer(obj)) {
      this.lines.add(`${path}\tbinary`);
      this.signal(INPUT_SIGNAL_BINARY_BLOB);
      return;
    }
    if (obj instanceof Date) {
      this.lines.add(`${path}\tdate`);
      return;
    }
    if (obj instanceof Map) {
      this.lines.add(`${path}\tmap`);
      return;
    }
    if (obj instanceof Set) {
      this.lines.add(`${path}\tset`);
      return;
    }
    if (this.ancestors.includes(obj)) {
      this.lines.add(`${path}\tcycle`);
      return;
    }
    this.ancestors.push(obj);
    try {
      if (Array.isArray(obj)) {
        this.lines.add(`${path}\tarray`);
        const child = `${path}[]`;
        const n = obj.length;
        for (let i = 0; i < n; i++) {
          if (this.nodes >= FEATURES_MAX_NODES) {
            this.truncated = true;
            break;
          }
          this.visit(read(obj, i), child, depth + 1);
        }
        return;
      }
      this.lines.add(`${path}\tobject`);
      let keys: string[];
      try {
        keys = Object.keys(obj);
      } catch {
        this.lines.add(`${path}\tother`);
        return;
      }
      for (let i = 0; i < keys.length; i++) {
        if (this.nodes >= FEATURES_MAX_NODES) {
          this.truncated = true;
          break;
        }
        const key = keys[i]!;
        this.visit(read(obj, key), `${path}${keyPath(key)}`, depth + 1);
      }
    } finally {
      this.ancestors.pop();
    }
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
    if (s.length < 4 || this.scanBudget <= 0) {
      if (s.length >= 4) this.truncated = true;
      return;
    }
    let text = s;
    const limit = Math.min(MAX_STRING_CHARS, this.scanBudget);
    if (text.length > limit) {
      text = text.slice(0, limit);
      this.truncated = true;
    }
    this.scanBudget -= text.length;
    for (let i = 0; i < BUILT_IN_INPUT_SIGNALS.length; i++) {
      const rule = BUILT_IN_INPUT_SIGNALS[i]!;
      if (!this.has(rule.name) && rule.pattern.test(text)) this.signal(rule.name);
    }
    if (!this.has(INPUT_SIGNAL_BINARY_BLOB) && isBinaryText(text)) {
      this.signal(INPUT_SIGNAL_BINARY_BLOB);
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

function isBinaryText(s: string): boolean {
  if (s.indexOf('\u0000') >= 0) return true;
  C0_CONTROL.lastIndex = 0;
  let count = 0;
  while (C0_CONTROL.exec(s) !== null) {
    if (++count >= BINARY_MIN_CONTROLS) return true;
  }
  return false;
}

function scalarType(type: string): string {
  switch (type) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return type;
    default:
      // undefined, function, symbol: no JSON form, but part of the structure the caller sent.
      return 'other';
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
