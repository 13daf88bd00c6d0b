/**
 * Credentials in the userinfo of a URL of any scheme (`postgres://`, `mongodb+srv://`,
 * `redis://`, `amqp://`, `ftp://`, `https://`, …), whatever the password holds: `/ # @ : %`
 * included, as people paste them unencoded. A URL parser would end the authority at the first
 * `/`, `?` or `#` and leak the rest of the password; here the LAST `@` before a host ends the
 * userinfo.
 *
 * A procedural scan rather than one regex: it looks at the text between one `://` and the
 * next (or a quote, whitespace, `<`, `>`, a backtick, at most 2048 characters), so every
 * character is visited a bounded number of times and 1 MB of `://@:` stays linear.
 */

const WINDOW = 2048;
const MAX_HOST = 253;

export const URL_CREDENTIALS_TAG = '[REDACTED:url_credentials]';

/** Replaces `user:password` in every `scheme://user:password@host` by the tag; counts them. */
export function redactUrlCredentials(value: string, found: () => void): string {
  let out = '';
  let last = 0;
  let from = 0;
  for (;;) {
    const sep = value.indexOf('://', from);
    if (sep === -1) break;
    const start = sep + 3;
    const next = value.indexOf('://', start);
    const limit = Math.min(next === -1 ? value.length : next, start + WINDOW);
    let end = start;
    while (end < limit && !isTerminator(value.charCodeAt(end))) end++;
    const at = lastHostAt(value, start, end);
    if (at !== -1 && isCredential(value, start, at)) {
      out += value.slice(last, start) + URL_CREDENTIALS_TAG;
      last = at;
      found();
    }
    from = Math.max(end, start);
  }
  return last === 0 ? value : out + value.slice(last);
}

/** Whitespace, quotes, angle brackets, backtick: a URL (or its password) never spans them. */
function isTerminator(c: number): boolean {
  return c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96 || c === 127;
}

/** The last `@` in [start, end) that a host follows, or -1. */
function lastHostAt(value: string, start: number, end: number): number {
  // Each candidate's host scan stops at the first non-host character, at the latest the `@`
  // found before it: all candidates together cost one pass over the window. (No lastIndexOf:
  // it would search before `start`, making many `://` without `@` quadratic.)
  for (let at = end - 1; at >= start; at--) {
    if (value.charCodeAt(at) === 64 /* @ */ && hostFollows(value, at + 1, end)) return at;
  }
  return -1;
}

/** `host` (a name, an IPv4 or a `[v6]` address), an optional `:port`, then the authority's end. */
function hostFollows(value: string, i: number, end: number): boolean {
  const begin = i;
  if (value.charCodeAt(i) === 91 /* [ */) {
    i++;
    while (i < end && i - begin <= 64 && isV6Char(value.charCodeAt(i))) i++;
    if (value.charCodeAt(i) !== 93 /* ] */ || i === begin + 1) return false;
    i++;
  } else {
    while (i < end && i - begin <= MAX_HOST && isHostChar(value.charCodeAt(i))) i++;
    if (i === begin) return false;
  }
  if (i < end && value.charCodeAt(i) === 58 /* : */) {
    const portStart = ++i;
    while (i < end && i - portStart < 5 && isDigit(value.charCodeAt(i))) i++;
    if (i === portStart) return false;
  }
  if (i >= end) return true;
  // What may end an authority: a path, query or fragment, a list of hosts (MongoDB), prose.
  return '/?#,;)]}\\'.includes(value[i]!);
}

/**
 * The userinfo in [start, at) is `user:password` (user possibly empty, as Redis has it), and
 * not a host, port and path that an `@` later in the path follows (`https://h.example:8443/@ann`).
 */
function isCredential(value: string, start: number, at: number): boolean {
  let colon = start;
  for (; colon < at; colon++) {
    const c = value.charCodeAt(colon);
    if (c === 58) break; // :
    if (c === 47 || c === 63 || c === 35) return false; // `/ ? #` before the colon: a path
  }
  if (colon >= at - 1) return false;
  const user = value.slice(start, colon);
  if (user.includes('.') || user === 'localhost') {
    let i = colon + 1;
    while (i < at && i - colon <= 5 && isDigit(value.charCodeAt(i))) i++;
    // host:port followed by a path: the `@` is in the path.
    if (i > colon + 1 && '/?#'.includes(value[i]!)) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHostChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    isDigit(c) ||
    c === 45 || // -
    c === 46 || // .
    c === 95 || // _
    c === 126 || // ~
    c === 37 // % (percent-encoded IDN)
  );
}

function isV6Char(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 58 || c === 46;
}
