/**
 * The time every span and event of this package carries: milliseconds since the epoch at the
 * high-resolution clock's full resolution (`performance.timeOrigin + performance.now()`, a
 * fraction of a millisecond, kept to well under a microsecond by the SDK's conversion).
 *
 * Without an explicit time, the OpenTelemetry SDK starts a span at `Date.now()` (whole
 * milliseconds) and, once a start time was given, ends it and stamps its events at `Date.now()`
 * too: tool durations came out as 0 µs, 1 ms, 2 ms. With one clock for start, events and end,
 * a duration is the difference of two readings of the same monotonic clock.
 */
export function hrNow(): number {
  return TIME_ORIGIN + performance.now();
}

// Constant for the life of the process (or worker); read once instead of through its getter.
const TIME_ORIGIN = performance.timeOrigin;
