import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical-json.js';
import { credentialRefsOfBytes, credentialRefsOfPayload } from '../src/credential-index.js';
import type { AppendEntry, StoredRecord } from '../src/index.js';
import { type IndexWarning, openStoreReader } from '../src/query.js';
import { cleanupTempStores, type TempStore, tempStore } from './helpers.js';

// `credential.ref` → runs from the query index (issue 13 §1: from a token reference in an API
// gateway or cloud audit log to the run). The index must give the answer a full scan gives,
// for credentials a span used and for credentials a `credential.issued` event issued.

afterAll(cleanupTempStores);

const RUNS = 18;
const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** Run w: a root span that issues `aat_iss_w`, a tool span that uses `aat_use_(w % 5)`. */
function runEntries(w: number, run = `run-${w}`): AppendEntry[] {
  const trace = `${w}`.padStart(32, '0');
  const root = `${w}`.padStart(16, 'a');
  const tool = `${w}`.padStart(16, 'b');
  const tags = { run, agent: 'billing-agent', principal: `user:${w % 3}` };
  const toolAttrs = [kv('gen_ai.tool.name', 'refund'), kv('credential.ref', `aat_use_${w % 5}`)];
  const exportOf = (span: Record<string, unknown>) => ({
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', 'billing')] },
        scopeSpans: [{ scope: { name: '@agent-audit/instrumentation' }, spans: [span] }],
      },
    ],
  });
  return [
    {
      type: 'span.start',
      tags: { ...tags, span: tool, parent: root, tool: 'refund' },
      payload: {
        traceId: trace,
        spanId: tool,
        parentSpanId: root,
        name: 'tool',
        attributes: toolAttrs,
      },
    },
    {
      type: 'span.end',
      tags: { ...tags, span: tool, parent: root, tool: 'refund', status: 'ok' },
      payload: exportOf({
        traceId: trace,
        spanId: tool,
        parentSpanId: root,
        name: 'tool',
        attributes: toolAttrs,
      }),
    },
    {
      type: 'span.end',
      tags: { ...tags, span: root, status: 'ok' },
      payload: exportOf({
        traceId: trace,
        spanId: root,
        name: 'run',
        attributes: [kv('workflow.run.id', run)],
        events: [
          {
            name: 'credential.issued',
            timeUnixNano: '1',
            attributes: [kv('credential.ref', `aat_iss_${w}`), kv('credential.issuer', 'idp')],
          },
        ],
      }),
    },
  ];
}

interface OtlpSpanDoc {
  attributes?: unknown;
  events?: Array<{ name?: string; attributes?: unknown }>;
}
interface OtlpDoc extends OtlpSpanDoc {
  resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpanDoc[] }> }>;
}

/**
 * The truth, computed apart from the store's own extraction: the runs whose span attributes
 * (span.start intent or span.end export) or `credential.issued` event attributes name `ref`.
 */
function truthRuns(records: StoredRecord[], ref: string): string[] {
  const out = new Set<string>();
  const names = (attrs: unknown) =>
    Array.isArray(attrs) &&
    attrs.some(
      (a: { key?: string; value?: { stringValue?: string } }) =>
        a.key === 'credential.ref' && a.value?.stringValue === ref,
    );
  for (const r of records) {
    const run = r.tags.run;
    if (!run) continue;
    const p = r.payload as OtlpDoc;
    if (r.type === 'span.start' && names(p.attributes)) out.add(run);
    if (r.type !== 'span.end') continue;
    for (const rs of p.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          if (names(s.attributes)) out.add(run);
          for (const e of s.events ?? []) {
            if (e.name === 'credential.issued' && names(e.attributes)) out.add(run);
          }
        }
      }
    }
  }
  return [...out].sort();
}

const REFS = [
  ...Array.from({ length: 5 }, (_, i) => `aat_use_${i}`),
  ...Array.from({ length: RUNS }, (_, i) => `aat_iss_${i}`),
  'aat_nobody',
];

async function writeStore(t: TempStore, from: number, to: number): Promise<void> {
  const store = t.open({ segmentMaxBytes: 6_000 });
  for (let w = from; w < to; w++) for (const e of runEntries(w)) await store.append(e);
  await store.close();
}

function everyAnswer(t: TempStore, warnings: IndexWarning[], refs = REFS) {
  const scan = openStoreReader(t.dir, { index: false });
  const records = scan.recordsFrom(1, 1_000_000);
  const truth = refs.map((ref) => truthRuns(records, ref));
  const scanned = refs.map((ref) => scan.credentialRuns(ref).sort());
  scan.close();
  // A fresh reader per ref (each answers its first query: a scan held against the index) and
  // one long-lived reader (from its second query on, answered from the checked index).
  const oneShot = refs.map((ref) => {
    const r = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
    try {
      return r.credentialRuns(ref).sort();
    } finally {
      r.close();
    }
  });
  const long = openStoreReader(t.dir, { onWarning: (w) => warnings.push(w) });
  long.listRuns();
  const indexed = refs.map((ref) => long.credentialRuns(ref).sort());
  long.close();
  return { truth, scanned, oneShot, indexed };
}

describe('credential.ref in the query index', () => {
  it('answers what a full scan answers, for used and issued refs, before and after a writer restart', async () => {
    const t = tempStore();
    await writeStore(t, 0, RUNS - 4);
    const warnings: IndexWarning[] = [];
    const first = everyAnswer(t, warnings);
    expect(first.scanned).toEqual(first.truth);
    expect(first.oneShot).toEqual(first.truth);
    expect(first.indexed).toEqual(first.truth);
    // Issued refs are only in `credential.issued` events: an index of span attributes alone
    // would answer [] here.
    expect(first.indexed[REFS.indexOf('aat_iss_3')]).toEqual(['run-3']);
    expect(first.indexed[REFS.indexOf('aat_use_2')]).toEqual(['run-12', 'run-2', 'run-7']);
    expect(first.indexed[REFS.indexOf('aat_nobody')]).toEqual([]);

    await writeStore(t, RUNS - 4, RUNS);
    const after = everyAnswer(t, warnings);
    expect(after.indexed).toEqual(after.truth);
    expect(after.oneShot).toEqual(after.truth);
    expect(after.indexed[REFS.indexOf('aat_iss_16')]).toEqual(['run-16']);
    expect(after.indexed[REFS.indexOf('aat_use_2')]).toEqual([
      'run-12',
      'run-17',
      'run-2',
      'run-7',
    ]);
    expect(warnings).toEqual([]);
  });

  it('a ref holding characters canonical JSON escapes is found', async () => {
    const t = tempStore();
    const store = t.open();
    await store.append({
      type: 'span.start',
      tags: { run: 'run-x', span: 's' },
      payload: {
        traceId: '1',
        spanId: 's',
        name: 'tool',
        attributes: [kv('credential.ref', 'aat_é\u0001')],
      },
    });
    await store.close();
    const warnings: IndexWarning[] = [];
    const answers = everyAnswer(t, warnings, ['aat_é\u0001']);
    expect(answers.indexed).toEqual([['run-x']]);
    expect(answers.oneShot).toEqual([['run-x']]);
    expect(warnings).toEqual([]);
  });

  it('reading refs from the bytes gives what parsing the payload gives', () => {
    const payloads: unknown[] = [
      { attributes: [kv('credential.ref', 'aat_a'), kv('tool.name', 'x')] },
      { attributes: [kv('credential.ref', 'aat_a'), kv('credential.ref', 'aat_b')] },
      { attributes: [kv('credential.refresh', 'aat_a')] },
      { attributes: [kv('note', 'credential.ref'), kv('credential.ref', 'credential.ref')] },
      { attributes: [{ key: 'credential.ref', value: { intValue: 3 } }] },
      { attributes: [{ key: 'credential.ref', value: { stringValue: 'aat_c', x: 1 } }] },
      { attributes: [{ a: 1, key: 'credential.ref', value: { stringValue: 'aat_d' } }] },
      { attributes: [{ key: 'credential.ref', value: { stringValue: 'aat_e' }, z: 0 }] },
      { attributes: [kv('credential.ref', 'aat_"quoted"\\')] },
      { 'credential.ref': 'aat_f' },
      {
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    attributes: [kv('credential.ref', 'aat_used')],
                    events: [
                      { name: 'credential.issued', attributes: [kv('credential.ref', 'aat_new')] },
                      { name: 'other', attributes: [kv('credential.ref', 'aat_other')] },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
    ];
    const key = (refs: Array<{ kind: string; ref: string }>) =>
      refs.map((r) => `${r.kind}:${r.ref}`).sort();
    for (const p of payloads) {
      const bytes = Buffer.from(canonicalJson(p));
      expect(key(credentialRefsOfBytes(bytes)), bytes.toString()).toEqual(
        key(credentialRefsOfPayload(p)),
      );
    }
    // Non-canonical spellings a hostile writer could use: still found.
    const raw = (text: string) => key(credentialRefsOfBytes(Buffer.from(text)));
    expect(
      raw('{"attributes":[{"key":"credential\\u002eref","value":{"stringValue":"aat_g"}}]}'),
    ).toEqual(['used:aat_g']);
    expect(
      raw(
        '{"attributes":[{"key":"credential.ref","value":{"stringValue":"aat_h","stringValue":"aat_i"}}]}',
      ),
    ).toEqual(['used:aat_i']);
    expect(
      raw(
        '{"attributes":[{"key":"credential.ref","value":{"stringValue":"aat_j"},"value":{"stringValue":"aat_k"}}]}',
      ),
    ).toEqual(['used:aat_k']);
    expect(
      key(
        credentialRefsOfPayload({
          events: [{ name: 'credential.issued', attributes: [kv('credential.ref', 'aat_n')] }],
        }),
      ),
    ).toEqual(['issued:aat_n']);
  });
});
