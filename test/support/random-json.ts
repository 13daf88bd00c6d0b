import { pick } from './prng.js';

/** A short string of ASCII, controls, BMP, astral pairs and (when `lone`) lone surrogates. */
export function randomString(rnd: () => number, lone = true): string {
  const n = Math.floor(rnd() * 8);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const cp =
      r < 0.5
        ? 32 + Math.floor(rnd() * 95)
        : r < 0.6
          ? Math.floor(rnd() * 32)
          : r < 0.8
            ? 0xa0 + Math.floor(rnd() * 0xd000)
            : r < 0.9 || !lone
              ? 0x10000 + Math.floor(rnd() * 0xfffff)
              : 0xd800 + Math.floor(rnd() * 0x800);
    // 0xa0 + up to 0xd000 reaches into the surrogate block: skip it unless lone ones are wanted.
    const unit = !lone && cp >= 0xd800 && cp <= 0xdfff ? 0x41 : cp;
    s += unit > 0xffff ? String.fromCodePoint(unit) : String.fromCharCode(unit);
  }
  return s;
}

/**
 * Plain JSON values only (what the canonicalize package accepts): awkward numbers, array-index
 * keys (where engine key order and RFC 8785 order differ), and, when `lone`, lone surrogates.
 */
export function randomJson(rnd: () => number, depth: number, lone = true): unknown {
  if (depth <= 0 || rnd() < 0.3) {
    return pick(rnd, [
      () => null,
      () => rnd() < 0.5,
      () => Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1),
      () => (rnd() - 0.5) * 10 ** Math.floor(rnd() * 60 - 30),
      () => pick(rnd, [0, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, 0.1 + 0.2]),
      () => randomString(rnd, lone),
    ])();
  }
  const n = Math.floor(rnd() * 6);
  if (rnd() < 0.5) return Array.from({ length: n }, () => randomJson(rnd, depth - 1, lone));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const key =
      rnd() < 0.2
        ? pick(rnd, ['0', '1', '2', '10', '01', '4294967295', '-1', '1.5'])
        : randomString(rnd, lone);
    o[key] = randomJson(rnd, depth - 1, lone);
  }
  return o;
}
