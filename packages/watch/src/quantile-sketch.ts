import { DDSketch } from '@datadog/sketches-js';

/** A DDSketch as persisted in the watcher's state file (plain JSON, no protobuf). */
export interface SketchState {
  /** `[key, count]` of every non-empty bin of the positive store. */
  bins: [number, number][];
  zero: number;
  count: number;
  min: number;
  max: number;
  sum: number;
}

/** Relative accuracy of every sketch: a quantile is within 2 % of the true value. */
const ACCURACY = 0.02;

/**
 * A quantile sketch (Datadog's DDSketch, relative-error guarantee) that survives a restart:
 * its bins are written to and read back from JSON.
 */
export class QuantileSketch {
  readonly #sketch = new DDSketch({ relativeAccuracy: ACCURACY });

  static from(state: SketchState | undefined): QuantileSketch {
    const s = new QuantileSketch();
    if (!state) return s;
    const inner = s.#sketch;
    for (const [key, count] of state.bins) inner.store.add(key, count);
    inner.zeroCount = state.zero;
    inner.count = state.count;
    inner.min = state.min;
    inner.max = state.max;
    inner.sum = state.sum;
    return s;
  }

  get count(): number {
    return this.#sketch.count;
  }

  accept(value: number): void {
    this.#sketch.accept(Math.max(0, value));
  }

  quantile(q: number): number {
    return this.#sketch.count === 0 ? 0 : this.#sketch.getValueAtQuantile(q);
  }

  toJSON(): SketchState {
    const store = this.#sketch.store;
    const bins: [number, number][] = [];
    for (let i = 0; i < store.bins.length; i++) {
      const c = store.bins[i]!;
      if (c > 0) bins.push([i + store.offset, c]);
    }
    const k = this.#sketch;
    return { bins, zero: k.zeroCount, count: k.count, min: k.min, max: k.max, sum: k.sum };
  }
}
