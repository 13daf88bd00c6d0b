const MAKER = Symbol('CanonicalFragment maker');

/**
 * A value already written as canonical JSON by a {@link StrictJsonWriter} (its `fragment()`),
 * kept with its text. Wherever a fragment appears inside a value that a strict writer writes,
 * its text is spliced in as it is instead of being serialized again: a part that recurs in many
 * records (an attribute that every span of a run carries, the part of a span's end record that
 * its start record already held) is serialized once.
 *
 * Only a strict writer makes fragments (through {@link makeFragment}, which the package does not
 * export; the constructor refuses any other caller), so a fragment's text is always the writer's
 * own canonical output, never text a caller supplied.
 * The text is a snapshot: changing the value afterwards does not change the fragment.
 *
 * Any other serializer (`JSON.stringify`, the lenient writer, another copy of this package) sees
 * an object with a `toJSON()` that returns the parsed text: the same JSON value, so the same
 * bytes, only without the saving.
 */
export class CanonicalFragment {
  readonly #text: string;

  constructor(token: symbol, text: string) {
    if (token !== MAKER) {
      throw new TypeError('CanonicalFragment: made by StrictJsonWriter.fragment() only');
    }
    this.#text = text;
  }

  /** The fragment's canonical text when `value` is a fragment (of this copy of the package). */
  static textOf(value: object): string | undefined {
    return #text in value ? (value as CanonicalFragment).#text : undefined;
  }

  toJSON(): unknown {
    return JSON.parse(this.#text);
  }
}

/** For the strict writer: `text` must be its own canonical output. */
export function makeFragment(text: string): CanonicalFragment {
  return new CanonicalFragment(MAKER, text);
}
