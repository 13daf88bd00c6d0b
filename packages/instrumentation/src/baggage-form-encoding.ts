/*
 * W3C Baggage values are percent-encoded (RFC 3986): a space is outside `baggage-octet` and
 * is sent as `%20`; `+` (%x2B) is an ordinary literal. OpenTelemetry JS decodes that way
 * (`decodeURIComponent`). OpenTelemetry Python (up to at least 1.45) encodes with
 * `urllib.parse.quote_plus`, i.e. HTML form encoding: a space becomes `+`, a `+` becomes `%2B`,
 * and every character but `A-Za-z0-9_.~-` is escaped (open-telemetry/opentelemetry-python#5566).
 * So `user:jane doe@example.com` arrives as `user%3Ajane+doe%40example.com`, which a compliant
 * decoder reads as `user:jane+doe@example.com`: two names for one person.
 *
 * A literal `+` is therefore read as a space only when the whole header shows the form
 * encoder's fingerprint: every value uses only the form encoder's output alphabet
 * (`A-Za-z0-9_.~*-`, `+`, `%XX`), and at least one value escapes a character (`%XX`). A
 * compliant encoder that leaves `+` literal also leaves the other baggage octets literal
 * (`:`, `@`, `/`, `=`: OpenTelemetry Go and Java), and one that escapes them escapes `+` too
 * (OpenTelemetry JS, .NET): neither shows the fingerprint, so their `+` stays a `+`. What stays
 * ambiguous — a Python value with a space and no other escaped character (`jane doe` sent as
 * `jane+doe`) — is read as the spec says, a literal `+`; a signed run context settles it (its
 * principal travels in the signed claims, byte for byte).
 */

const FORM_VALUE = /^(?:[A-Za-z0-9_.~*+-]|%[0-9A-Fa-f]{2})*$/;
const ESCAPE = /%[0-9A-Fa-f]{2}/;

/** The raw (still encoded) value of each entry of a `baggage` header, by decoded key. */
function rawEntries(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const member of header.split(',')) {
    const pair = member.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    let key: string;
    try {
      key = decodeURIComponent(pair.slice(0, eq).trim());
    } catch {
      continue;
    }
    out.set(key, pair.slice(eq + 1).trim());
  }
  return out;
}

/** True when every value of `header` looks form-encoded (see the file comment). */
export function isFormEncodedBaggage(header: string): boolean {
  const values = [...rawEntries(header).values()];
  return (
    values.length > 0 &&
    values.every((v) => FORM_VALUE.test(v)) &&
    values.some((v) => ESCAPE.test(v))
  );
}

/**
 * The value of entry `key` in `header` with a literal `+` read as a space (form decoding), or
 * undefined when the entry is absent, has no `+`, or does not decode.
 */
export function formDecodedEntry(header: string, key: string): string | undefined {
  const raw = rawEntries(header).get(key);
  if (raw === undefined || !raw.includes('+')) return undefined;
  try {
    return decodeURIComponent(raw.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}
