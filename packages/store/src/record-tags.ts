import { quoteString } from '@agent-audit/canonical-json';
import { configurationError } from './errors.js';
import type { AppendEntry } from './types.js';

/**
 * Canonical JSON of a flat string map, validated. Tags are on every record, so this skips the
 * general canonicaliser: sort the keys, JSON-encode keys and values.
 */
export function tagsToJson(tags: AppendEntry['tags'], memo: TagPlanMemo): string {
  if (tags === undefined || tags === null) return '{}';
  if (typeof tags !== 'object' || Array.isArray(tags)) {
    throw configurationError('entry.tags', 'an object of strings', tags);
  }
  const keys = Object.keys(tags);
  const plan = tagPlan(keys, memo);
  let out = '';
  for (let i = 0; i < plan.order.length; i++) {
    const k = keys[plan.order[i]!]!;
    const v = tags[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw configurationError(`entry.tags.${k}`, 'a string', v);
    // Most values repeat from the plan's previous record (run, agent, principal, trace, tool,
    // and a span's own id from its start record to its end record): reuse their quoted form.
    let quoted: string;
    if (plan.lastValues[i] === v) {
      quoted = plan.lastQuoted[i]!;
    } else {
      quoted = quoteString(v);
      plan.lastValues[i] = v;
      plan.lastQuoted[i] = quoted;
    }
    out += `${out === '' ? '{' : ','}${plan.prefixes[i]}${quoted}`;
  }
  return out === '' ? '{}' : `${out}}`;
}

/**
 * Whether JSON.stringify leaves the string as it is between quotes: no quote, backslash,
 * control character or surrogate (a lone surrogate is escaped; pairs are rare in tags and take
 * the JSON.stringify path). Tag values (run ids, agent ids, tool names) nearly always are.
 */
interface TagPlan {
  keys: string[];
  /** Indexes into `keys` in canonical (UTF-16) order. */
  order: number[];
  /** `"key":` for each position of `order`. */
  prefixes: string[];
  /**
   * The value last written at each position of `order`, and its quoted form (quoteString, a
   * pure function of the value): a repeated value is not scanned for escapes again.
   */
  lastValues: (string | undefined)[];
  lastQuoted: (string | undefined)[];
}

/**
 * Callers tag every record with the same keys in the same order, so the sorted order and the
 * encoded key prefixes are worked out once and reused while the key list stays the same
 * (measured: tags were ~20% of the append path's fixed cost).
 *
 * A few key lists are remembered, not one: the SDK tags a tool call's `span.start` record
 * without `status` and its `span.end` record with it, so a one-entry memo missed on every
 * record and re-sorted and re-quoted the keys twice per tool call (~3 % of the audited call's
 * in-call CPU in the peers bench profile: `tagPlan` and its sort comparator).
 */
export interface TagPlanMemo {
  plans: TagPlan[];
  /** Where the next new plan goes once `plans` is full (round robin). */
  next?: number;
}

const TAG_PLANS_KEPT = 4;

function tagPlan(keys: string[], memo: TagPlanMemo): TagPlan {
  const plans = memo.plans;
  for (let p = 0; p < plans.length; p++) {
    const cached = plans[p]!;
    if (cached.keys.length !== keys.length) continue;
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (cached.keys[i] !== keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
  const plan = {
    keys: [...keys],
    order,
    prefixes: order.map((i) => `${JSON.stringify(keys[i])}:`),
    lastValues: [],
    lastQuoted: [],
  };
  if (plans.length < TAG_PLANS_KEPT) {
    plans.push(plan);
  } else {
    const at = memo.next ?? 0;
    plans[at] = plan;
    memo.next = (at + 1) % TAG_PLANS_KEPT;
  }
  return plan;
}
